"""Faceset: a folder of aligned faces that loads fast (memory-mapped).

Layout of ``<faceset>/``:

- ``faces.npy``      uint8 (N, S, S, 3) RGB aligned crops
- ``masks.npy``      uint8 (N, S, S), 255 on the face
- ``landmarks.npy``  float32 (N, 68, 2) in aligned-crop pixels
- ``index.parquet``  one row per face, in the arrays' order: frame, face,
  yaw, pitch, roll, blur, score, matrix (6 floats, frame -> crop)
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap

from swapflow.io import atomic_path


@dataclass
class Faceset:
    faces: np.ndarray
    masks: np.ndarray
    landmarks: np.ndarray
    index: pd.DataFrame

    def __len__(self) -> int:
        return len(self.index)


@contextmanager
def create_faceset(path: str | os.PathLike, n: int, size: int) -> Iterator[Faceset]:
    """Yield an empty faceset of ``n`` faces to fill, written atomically.

    The arrays are memory maps inside a temporary folder, so a long video never
    sits in RAM; set ``index`` (n rows) before the block ends. The folder is
    renamed onto ``path`` only when the block succeeds.
    """
    with atomic_path(path) as tmp:
        tmp.mkdir()
        fs = Faceset(
            faces=open_memmap(tmp / "faces.npy", "w+", np.uint8, (n, size, size, 3)),
            masks=open_memmap(tmp / "masks.npy", "w+", np.uint8, (n, size, size)),
            landmarks=open_memmap(tmp / "landmarks.npy", "w+", np.float32, (n, 68, 2)),
            index=pd.DataFrame(),
        )
        yield fs
        if len(fs.index) != n:
            raise ValueError(f"faceset index has {len(fs.index)} rows for {n} faces")
        for arr in (fs.faces, fs.masks, fs.landmarks):
            arr.flush()
        fs.index.reset_index(drop=True).to_parquet(tmp / "index.parquet", index=False)


def load_faceset(path: str | os.PathLike) -> Faceset:
    """Open a faceset; the arrays are read-only memory maps."""
    p = Path(path)
    return Faceset(
        faces=np.load(p / "faces.npy", mmap_mode="r"),
        masks=np.load(p / "masks.npy", mmap_mode="r"),
        landmarks=np.load(p / "landmarks.npy", mmap_mode="r"),
        index=pd.read_parquet(p / "index.parquet"),
    )


def contact_sheet(faceset_dir: str | os.PathLike, out_jpg: str | os.PathLike, n: int = 48, tile: int = 128) -> None:
    """JPEG grid of ``n`` faces spread evenly over the faceset.

    Each tile shows the aligned face with its 68 landmarks (green dots), the
    mask outline (red) and the frame number. An empty faceset gives one grey
    tile reading "no faces".
    """
    fs = load_faceset(faceset_dir)
    picks = np.unique(np.linspace(0, len(fs) - 1, min(n, len(fs))).round().astype(int)) if len(fs) else []
    tiles = []
    for i in picks:
        size = fs.faces.shape[1]
        img = cv2.cvtColor(np.array(fs.faces[i]), cv2.COLOR_RGB2BGR)
        contours, _ = cv2.findContours(np.array(fs.masks[i]), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(img, contours, -1, (0, 0, 255), max(1, size // 128))
        for x, y in fs.landmarks[i]:
            cv2.circle(img, (int(round(x)), int(round(y))), max(1, size // 128), (0, 255, 0), -1)
        img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
        cv2.putText(img, str(int(fs.index["frame"].iloc[i])), (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        tiles.append(img)
    if not tiles:
        blank = np.full((tile, tile, 3), 128, np.uint8)
        cv2.putText(blank, "no faces", (8, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        tiles = [blank]
    cols = min(8, len(tiles))
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    grid = np.vstack([np.hstack(tiles[r : r + cols]) for r in range(0, len(tiles), cols)])
    with atomic_path(out_jpg) as tmp:
        ok, buf = cv2.imencode(".jpg", grid, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ValueError(f"could not encode contact sheet {out_jpg}")
        tmp.write_bytes(buf.tobytes())

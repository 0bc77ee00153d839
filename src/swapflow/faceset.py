"""Faceset: a folder of aligned faces that loads fast (memory-mapped).

Layout of ``<faceset>/``:

- ``faces.npy``      uint8 (N, S, S, 3) RGB aligned crops
- ``masks.npy``      uint8 (N, S, S), 255 on the face
- ``landmarks.npy``  float32 (N, 68, 2) in aligned-crop pixels
- ``index.parquet``  one row per face, in the arrays' order: frame, face,
  yaw, pitch, roll, blur, score, matrix (6 floats, frame -> crop)
- ``curation.parquet`` one row per aligned face of the video, the removed ones
  too: what each filter measured and ``removed`` (see swapflow.curate)
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap

from swapflow.anatomy import POINTS
from swapflow.frames import outline, placeholder, sheet_tile, spread, tile_grid, write_jpeg
from swapflow.io import atomic_path

ARRAYS = ("faces", "masks", "landmarks")


@dataclass
class Faceset:
    faces: np.ndarray
    masks: np.ndarray
    landmarks: np.ndarray
    index: pd.DataFrame
    curation: pd.DataFrame | None = None

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
            landmarks=open_memmap(tmp / "landmarks.npy", "w+", np.float32, (n, POINTS, 2)),
            index=pd.DataFrame(),
        )
        yield fs
        if len(fs.index) != n:
            raise ValueError(f"faceset index has {len(fs.index)} rows for {n} faces")
        for arr in (fs.faces, fs.masks, fs.landmarks):
            arr.flush()
        fs.index.reset_index(drop=True).to_parquet(tmp / "index.parquet", index=False)
        if fs.curation is not None:
            fs.curation.to_parquet(tmp / "curation.parquet", index=False)


def load_faceset(path: str | os.PathLike) -> Faceset:
    """Open a faceset; the arrays are read-only memory maps."""
    p = Path(path)
    return Faceset(
        faces=np.load(p / "faces.npy", mmap_mode="r"),
        masks=np.load(p / "masks.npy", mmap_mode="r"),
        landmarks=np.load(p / "landmarks.npy", mmap_mode="r"),
        index=pd.read_parquet(p / "index.parquet"),
        curation=pd.read_parquet(p / "curation.parquet") if (p / "curation.parquet").exists() else None,
    )


def faceset_hash(path: str | os.PathLike) -> str:
    """blake2b of the faceset's arrays, so a model's manifest pins what it saw."""
    digest = hashlib.blake2b(digest_size=16)
    for name in ARRAYS:
        with open(Path(path) / f"{name}.npy", "rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()


def contact_sheet(faceset_dir: str | os.PathLike, out_jpg: str | os.PathLike, n: int = 48, tile: int = 128) -> None:
    """JPEG grid of ``n`` faces spread evenly over the faceset.

    Each tile shows the aligned face with its 68 landmarks (green dots), the
    mask outline (red) and the frame number. An empty faceset gives one grey
    tile reading "no faces".
    """
    fs = load_faceset(faceset_dir)
    tiles = []
    for i in spread(len(fs), n):
        size = fs.faces.shape[1]
        img = outline(fs.faces[i], fs.masks[i], (255, 0, 0))
        for x, y in fs.landmarks[i]:
            cv2.circle(img, (int(round(x)), int(round(y))), max(1, size // 128), (0, 255, 0), -1)
        tiles.append(sheet_tile(img, tile, str(int(fs.index["frame"].iloc[i]))))
    write_jpeg(out_jpg, tile_grid(tiles or [placeholder(tile, tile, "no faces")], 8))

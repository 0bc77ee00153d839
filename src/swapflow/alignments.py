"""Alignments: the tables of faces that extraction writes and every later stage reads.

Three tables, one row per face (``face`` numbered from 0 by detector score; a
visited frame without a face has one row with ``face`` -1 and a NaN box):

- raw (``RAW_COLUMNS``): a detect shard, ``results/detect/<video>/<shard>.parquet``:
  box, raw landmarks in frame pixels, sharpness, identity embedding;
- aligned (``ALIGN_COLUMNS``): ``results/align/<video>.parquet``: only faces,
  with smoothed landmarks, the matrix from frame pixels to the aligned crop,
  head pose, ``keep`` (the faces that are swapped and trained on) and
  ``tracked`` (faces the detector missed, predicted from their neighbours). Its
  metadata holds the video's frame count and size, so a table is never used
  on another video.

Landmarks are stored flat (136 floats: x0, y0, x1, y1, ...), matrices as 6
floats (row-major 2x3).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from swapflow.geometry import transform_points
from swapflow.anatomy import POINTS
from swapflow.io import InputError, write_parquet

PathLike = str | os.PathLike
BOX = ["x0", "y0", "x1", "y1"]
DETECT_COLUMNS = {"frame": "int64", "face": "int64", **dict.fromkeys(BOX, "float64"), "score": "float64",
                  "truncated": "bool"}
RAW_COLUMNS = {
    **DETECT_COLUMNS,
    "landmarks": "object",
    "blur": "float64",
    "embedding": "object",  # 128 floats, or None
    **dict.fromkeys(["width", "height"], "float64"),
}
ALIGN_COLUMNS = {
    **DETECT_COLUMNS,
    "landmarks": "object",
    "matrix": "object",
    "size": "int64",
    **dict.fromkeys(["yaw", "pitch", "roll", "blur"], "float64"),
    "embedding": "object",
    "keep": "bool",
    "tracked": "bool",  # predicted between frames where it was found (swapflow.track)
}


def table(rows: Sequence[Mapping], columns: Mapping[str, str]) -> pd.DataFrame:
    """A table of ``rows`` with exactly ``columns`` and their types (object columns as they are)."""
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    return pd.DataFrame(list(rows), columns=list(columns)).astype(
        {k: v for k, v in columns.items() if v != "object"})


# where a raw or aligned table's metadata lists the frames that lost faces to
# extract.max_faces: [[frame, faces dropped], ...]
DROPPED = "max_faces_dropped"


def dropped_text(dropped: Sequence[Sequence[int]], shown: int = 10) -> str:
    """"5 faces found beyond it dropped in 2 frames: 12 (3), 40 (2)" (the first ``shown`` frames)."""
    frames = ", ".join(f"{frame} ({n})" for frame, n in dropped[:shown]) + (", ..." if len(dropped) > shown else "")
    total = sum(n for _, n in dropped)
    return (f"{total} face{'s' * (total != 1)} found beyond it dropped in {len(dropped)} "
            f"frame{'s' * (len(dropped) != 1)}: {frames}")


def read_shards(paths: Sequence[PathLike]) -> pd.DataFrame:
    """The raw tables of a video's detect shards, as one (their frames that lost
    faces to max_faces joined in its metadata)."""
    shards = [pd.read_parquet(p) for p in paths]
    raw = pd.concat(shards, ignore_index=True)
    raw.attrs = {DROPPED: sorted(item for shard in shards for item in shard.attrs.get(DROPPED, []))}
    return raw


def write_alignments(path: PathLike, aligned: pd.DataFrame, frames: int, width: int, height: int) -> None:
    """Store an aligned table with the frame count and size of its video (and
    the frames that lost faces to max_faces, that align_faces put in its metadata)."""
    aligned = aligned.copy()
    aligned.attrs.update(frames=frames, width=width, height=height)
    write_parquet(path, aligned)


def read_alignments(path: PathLike, frames: int | None = None, width: int | None = None,
                    height: int | None = None) -> pd.DataFrame:
    """An aligned table; with the video's ``frames``, ``width`` and ``height``,
    InputError when the table was made from another video."""
    aligned = pd.read_parquet(path)
    if frames is None:
        return aligned
    meta = aligned.attrs
    if (meta.get("frames"), meta.get("width"), meta.get("height")) != (frames, width, height):
        raise InputError(f"{path}: alignments of a {meta.get('width')}x{meta.get('height')} "
                         f"video of {meta.get('frames')} frames, but the target is "
                         f"{width}x{height} with {frames} frames")
    if len(aligned) and aligned["frame"].max() >= frames:
        raise InputError(f"{path}: alignments name frame {aligned['frame'].max()}, "
                         f"but the target has {frames} frames")
    return aligned


def kept_faces(aligned: pd.DataFrame) -> pd.DataFrame:
    """The faces to swap and train on, in (frame, face) order, indexed from 0."""
    faces = aligned[(aligned["face"] >= 0) & aligned["keep"].astype(bool)]
    return faces.sort_values(["frame", "face"]).reset_index(drop=True)


def matrices(aligned: pd.DataFrame) -> np.ndarray:
    """(N, 2, 3) frame -> aligned-crop matrices."""
    return np.array(aligned["matrix"].tolist(), dtype=np.float64).reshape(-1, 2, 3)


def landmarks(aligned: pd.DataFrame) -> np.ndarray:
    """(N, 68, 2) landmarks in frame pixels."""
    return np.array(aligned["landmarks"].tolist(), dtype=np.float64).reshape(-1, POINTS, 2)


def aligned_landmarks(aligned: pd.DataFrame) -> np.ndarray:
    """(N, 68, 2) landmarks in aligned-crop pixels."""
    return np.array([transform_points(p, m) for p, m in zip(landmarks(aligned), matrices(aligned))]
                    ).reshape(-1, POINTS, 2)


def face_matrix(row: Any) -> np.ndarray:
    """A face row's alignment matrix, frame pixels -> crop pixels (2, 3)."""
    return np.asarray(row.matrix, dtype=np.float64).reshape(2, 3)


def whole_batches(wanted: pd.Series, size: int) -> list[range]:
    """The positions of the batches of ``size`` of the video's faces (counted from
    its first) that hold a ``wanted`` face: the model sees the same batches, so
    gives the same faces, wherever a shard starts."""
    return [range(b * size, min((b + 1) * size, len(wanted)))
            for b in np.unique(np.flatnonzero(wanted) // size)]

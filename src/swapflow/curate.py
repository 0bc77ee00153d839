"""Faceset curation: which of a video's kept faces training sees.

Four named filters run in this order, each on the faces the ones before it
left, and each measured against the video itself, not an absolute scale:

- ``outlier``: dlib embedding farther than ``outlier_distance`` from the
  video's median face (misdetections, another person, a face hidden behind
  something that is not the person);
- ``blur``: sharpness (variance of the Laplacian) below ``blur`` times the
  video's median (motion blur, focus pulls);
- ``duplicate``: aligned landmarks within ``duplicate_distance`` (mean point
  move, a fraction of the crop side) of the last face kept (frame-rate
  conversions, still shots: a face that adds nothing);
- ``pose_cap``: at most ``max_per_pose_bin`` faces per ``pose_bin``-degree
  yaw x pitch bin, spread in time (one long frontal shot does not dominate).

``curate`` returns the record: one row per face with what each filter
measured and ``removed`` (the filter that removed it, or "").
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from swapflow import alignments as al
from swapflow.geometry import warp
from swapflow.frames import frame_index, placeholder, read_frame, sheet_tile, spread, tile_grid, write_jpeg
from swapflow.settings import CurateConfig

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
KEEP_ALL = {"outlier_distance": 0, "blur": 0, "duplicate_distance": 0}  # no filter: every kept face
Filter = Callable[[pd.DataFrame, np.ndarray, np.ndarray, CurateConfig], np.ndarray]


def _outlier(record: pd.DataFrame, points: np.ndarray, left: np.ndarray, c: CurateConfig) -> np.ndarray:
    if not c.outlier_distance:
        return np.zeros(len(record), bool)
    embeddings = np.stack(record["embedding"].to_numpy())
    record["distance"] = np.linalg.norm(embeddings - np.median(embeddings[left], axis=0), axis=1)
    return left & (record["distance"].to_numpy() > c.outlier_distance)


def _blur(record: pd.DataFrame, points: np.ndarray, left: np.ndarray, c: CurateConfig) -> np.ndarray:
    blur = record["blur"].to_numpy(float)
    record["sharpness"] = blur / np.median(blur[left])
    return left & (record["sharpness"].to_numpy() < c.blur)


def _duplicate(record: pd.DataFrame, points: np.ndarray, left: np.ndarray, c: CurateConfig) -> np.ndarray:
    """A face repeats the last kept face of the same face number when its
    landmarks moved less than the setting (faces in frame order)."""
    moved = np.full(len(record), np.nan)
    last: dict[int, np.ndarray] = {}
    for i in np.flatnonzero(left):
        face = int(record["face"].iat[i])
        if face in last:
            moved[i] = np.linalg.norm(points[i] - last[face], axis=1).mean()
            if moved[i] < c.duplicate_distance:
                continue
        last[face] = points[i]
    record["moved"] = moved
    return left & (moved < c.duplicate_distance)


def _pose_cap(record: pd.DataFrame, points: np.ndarray, left: np.ndarray, c: CurateConfig) -> np.ndarray:
    removed = np.zeros(len(record), bool)
    if not c.max_per_pose_bin:
        return removed
    bins = pd.DataFrame({"yaw": record["yaw"] // c.pose_bin, "pitch": record["pitch"] // c.pose_bin})[left]
    for members in bins.groupby(["yaw", "pitch"]).indices.values():
        rows = np.flatnonzero(left)[members]
        removed[np.delete(rows, spread(len(rows), c.max_per_pose_bin))] = True
    return removed


FILTERS: dict[str, Filter] = {"outlier": _outlier, "blur": _blur, "duplicate": _duplicate,
                              "pose_cap": _pose_cap}


def curate(faces: pd.DataFrame, points: np.ndarray, cfg: CurateConfig) -> pd.DataFrame:
    """The record of curating ``faces`` (kept faces in frame order: frame, face,
    yaw, pitch, blur, and ``embedding`` when the outlier filter is on) whose
    aligned landmarks are ``points`` (N, 68, 2, a fraction of the crop side)."""
    record = faces.reset_index(drop=True).copy()
    record["removed"] = ""
    for name, step in FILTERS.items():
        left = (record["removed"] == "").to_numpy()
        if not left.any():
            break
        removed = step(record, points, left, cfg)
        record.loc[removed, "removed"] = name
        log.info("curate %s: removed %d of %d faces", name, removed.sum(), left.sum())
    return record.drop(columns="embedding", errors="ignore")


def settings_text(c: CurateConfig) -> dict[str, str]:
    """What each filter removes, in words, for the counts table."""
    def off(value: float, text: str) -> str:
        return text if value else "off"
    return {
        "outlier": off(c.outlier_distance, f"embedding distance to the median face > {c.outlier_distance}"),
        "blur": off(c.blur, f"sharpness < {c.blur} x the median"),
        "duplicate": off(c.duplicate_distance, f"landmarks moved < {c.duplicate_distance} of the crop"),
        "pose_cap": off(c.max_per_pose_bin, f"more than {c.max_per_pose_bin} faces in a "
                                            f"{c.pose_bin}-degree yaw x pitch bin"),
    }


def counts(record: pd.DataFrame, c: CurateConfig) -> pd.DataFrame:
    """One row per step: filter, setting, faces removed, faces left. First the
    faces detection found beyond ``extract.max_faces`` (the record's metadata
    ``al.DROPPED``: [frame, n] of each frame that lost some), then all kept
    faces, then each filter."""
    dropped = record.attrs.get(al.DROPPED, [])
    lost = sum(n for _, n in dropped)
    rows = [{"filter": "max_faces", "setting": al.dropped_text(dropped) if lost else "no face dropped",
             "removed": lost, "left": len(record)},
            {"filter": "aligned faces", "setting": "", "removed": 0, "left": len(record)}]
    left = len(record)
    for name, text in settings_text(c).items():
        n = int((record["removed"] == name).sum())
        left -= n
        rows.append({"filter": name, "setting": text, "removed": n, "left": left})
    return pd.DataFrame(rows)


def removed_sheet(frame_paths: Sequence[PathLike], alignments: pd.DataFrame, record: pd.DataFrame,
                  out_jpg: PathLike, n: int = 48, tile: int = 128) -> None:
    """JPEG grid of up to ``n`` removed faces spread over each filter's share,
    labelled with the frame and the filter; one grey tile when none was removed."""
    removed = record[record["removed"] != ""]
    share = max(1, n // max(1, removed["removed"].nunique()))
    shown = pd.concat([g.iloc[spread(len(g), share)] for _, g in removed.groupby("removed", sort=False)]
                      ) if len(removed) else removed
    kept = al.kept_faces(alignments).set_index(["frame", "face"])
    paths = {frame_index(p): p for p in frame_paths}
    tiles = []
    for r in shown.itertuples():
        face = kept.loc[(r.frame, r.face)]
        crop = warp(read_frame(paths[r.frame]), np.asarray(face["matrix"], float).reshape(2, 3), int(face["size"]))
        tiles.append(sheet_tile(crop, tile, f"{r.frame} {r.removed}"))
    write_jpeg(out_jpg, tile_grid(tiles or [placeholder(tile, tile, "none removed")], 8))

"""Faces a video's detector lost between frames (rule align, before smoothing).

Faces of consecutive visited frames are linked into tracks: a face continues
the track whose last box centre is nearest, within that box's width, if the
track was seen at most ``max_gap`` visited frames before. Then:

1. Search: from each track's last frame onwards (and its first frame
   backwards) the second detector looks for the face near its last box, frame
   by frame, until it has missed it on ``search`` frames in a row or a frame
   where the first detector found it again; each face found there is fitted
   like a detected one. Frames are read only here, so a video whose faces the
   first detector never loses costs nothing.
2. Gaps: where a track misses at most ``max_gap`` frames, the face is
   predicted in each: its box and points interpolated from its neighbours',
   the landmarks fitted from those points (``tracked``) and checked as a
   detected face's are. A fit that does not settle leaves the frame without
   the face, never a wrong one.
"""

from __future__ import annotations

import logging
import os
from functools import cached_property
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from swapflow import alignments as al
from swapflow.alignments import BOX, RAW_COLUMNS
from swapflow.anatomy import POINTS
from swapflow.detectors import NONE, Detector
from swapflow.extract import for_models, landmark_rows, no_face, second_detector_for
from swapflow.frames import frame_index, read_frame
from swapflow.geometry import align_matrix, warp
from swapflow.identity import Embedder
from swapflow.landmarks import Landmarker, make_landmarker
from swapflow.settings import DetectConfig, TrackConfig
from swapflow.schema import from_mapping

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
TRACKED_COLUMNS = {**RAW_COLUMNS, "tracked": "bool"}


def _centre(r: Mapping) -> np.ndarray:
    return np.array([(r["x0"] + r["x1"]) / 2, (r["y0"] + r["y1"]) / 2])


def _near(r: Mapping, last: Mapping) -> float:
    """Distance of ``r``'s box centre from ``last``'s, in ``last``'s widths (inf when further than one)."""
    d = float(np.linalg.norm(_centre(r) - _centre(last))) / (last["x1"] - last["x0"])
    return d if d < 1 else np.inf


def _points(r: Mapping) -> np.ndarray:
    return np.asarray(r["landmarks"], float).reshape(POINTS, 2)


def link(faces: Mapping[int, list[dict]], max_gap: int) -> list[list[tuple[int, dict]]]:
    """Tracks of (visited frame position, face) from the faces at each position."""
    tracks: list[list[tuple[int, dict]]] = []
    for i in sorted(faces):
        open_tracks = [t for t in tracks if i - t[-1][0] - 1 <= max_gap and t[-1][0] < i]
        for r in sorted(faces[i], key=lambda r: -r["score"]):
            dists = [_near(r, t[-1][1]) for t in open_tracks]
            if dists and np.isfinite(min(dists)):
                track = open_tracks.pop(int(np.argmin(dists)))
                track.append((i, r))
            else:
                tracks.append([(i, r)])
    return tracks


class _Fitter:
    """Landmarks (and the rest of a raw row) of a face at a given box of a frame.

    A face fitted from a ``start`` (points where it is expected) must also look
    like the face it continues: its aligned crop is compared, cell by cell, with
    the faces it was predicted from (see ``LOOK``); a fit that settled on
    something else (a frame without the face) is dropped.
    """

    LOOK = (64, 4, 0.5, 0.25)  # crop side, cells across, correlation a cell must reach, share of cells

    def __init__(self, paths: Sequence[PathLike], d: DetectConfig, embeddings: bool) -> None:
        self.paths = {frame_index(p): p for p in paths}
        self.d, self.embeddings = d, embeddings
        self.fitted = 0

    @cached_property
    def models(self) -> tuple[Landmarker, Embedder | None]:
        """Loaded when the first lost face is fitted: a video that loses none pays nothing."""
        return make_landmarker(self.d.landmarker), Embedder() if self.embeddings else None

    def row(self, frame: int, box: Sequence[float], score: float, tracked: bool,
            start: np.ndarray | None = None, like: Sequence[Mapping] = ()) -> dict | None:
        image = read_frame(self.paths[frame])
        h, w = image.shape[:2]
        x0, y0, x1, y1 = map(float, box)
        record = dict(frame=frame, face=0, x0=x0, y0=y0, x1=x1, y1=y1, score=score,
                      truncated=x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h)
        (out,) = landmark_rows(image, for_models(image), [record], *self.models, start)
        self.fitted += 1
        if out["face"] < 0 or (start is not None and not self._alike(image, _points(out), like, frame)):
            return None
        return out | {"tracked": tracked}

    def _alike(self, image: np.ndarray, points: np.ndarray, like: Sequence[Mapping], frame: int) -> bool:
        side, cells, least, share = self.LOOK
        crop = self._grey(image, points)
        known = np.mean([self._grey(read_frame(self.paths[r["frame"]]), _points(r)) for r in like], axis=0)
        step = side // cells
        agree = textured = 0
        for y in range(0, side, step):
            for x in range(0, side, step):
                a, b = crop[y:y + step, x:x + step].ravel(), known[y:y + step, x:x + step].ravel()
                if b.std() < 4:  # a flat cell of the known face says nothing
                    continue
                textured += 1
                agree += a.std() > 0 and np.corrcoef(a, b)[0, 1] >= least
        alike = bool(textured) and agree >= share * textured
        if not alike:
            log.info("frame %d: a predicted face dropped: %d of its %d cells look like the faces it continues",
                     frame, agree, textured)
        return alike

    def _grey(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        side = self.LOOK[0]
        return cv2.cvtColor(warp(image, align_matrix(points, side), side), cv2.COLOR_RGB2GRAY).astype(np.float64)


class _Searcher:
    """The second detector's faces of a frame, each frame detected at most once."""

    def __init__(self, fitter: _Fitter, d: DetectConfig) -> None:
        self.fitter, self.d = fitter, d
        self.boxes: dict[int, list[dict]] = {}

    @cached_property
    def detector(self) -> Detector:
        return second_detector_for(self.d)

    def find(self, frame: int, last: Mapping) -> dict | None:
        if frame not in self.boxes:
            image = read_frame(self.fitter.paths[frame])
            h, w = image.shape[:2]
            self.boxes[frame] = [
                dict(zip([*BOX, "score"], b)) for b in self.detector.detect(for_models(image))
                if b[4] >= self.d.threshold and max(b[2] - b[0], b[3] - b[1]) >= self.d.min_size * min(w, h)]
        dists = [_near(b, last) for b in self.boxes[frame]]
        if not dists or not np.isfinite(min(dists)):
            return None
        b = self.boxes[frame][int(np.argmin(dists))]
        box = [b[k] for k in BOX]
        # the mesh's start, or (a blurred face it does not see) the last points moved onto the box
        scale = (b["x1"] - b["x0"]) / (last["x1"] - last["x0"])
        moved = (_points(last) - _centre(last)) * scale + _centre(b)
        return (self.fitter.row(frame, box, b["score"], tracked=False)
                or self.fitter.row(frame, box, b["score"], tracked=False, start=moved, like=(last,)))


def recover_faces(raw: pd.DataFrame, frame_paths: Sequence[PathLike],
                  detect: Mapping[str, Any] | DetectConfig | None = None,
                  track: Mapping[str, Any] | TrackConfig | None = None) -> pd.DataFrame:
    """``raw`` (a video's detect table) with the faces its detector lost added
    (columns TRACKED_COLUMNS: ``tracked`` marks predicted faces)."""
    d, t = from_mapping(DetectConfig, detect), from_mapping(TrackConfig, track)
    frames = sorted(raw["frame"].unique())
    records = raw.sort_values(["frame", "face"]).to_dict("records")
    faces: dict[int, list[dict]] = {i: [] for i in range(len(frames))}
    position = {f: i for i, f in enumerate(frames)}
    for r in records:
        if r["face"] >= 0:
            faces[position[r["frame"]]].append(r | {"tracked": False})
    fitter = _Fitter(frame_paths, d, embeddings=raw["embedding"].notna().any())
    found = 0
    if t.search and d.second_detector != NONE:
        searcher = _Searcher(fitter, d)
        for track in link(faces, t.max_gap):
            for step, (start, last) in ((1, track[-1]), (-1, track[0])):
                found += _search(searcher, faces, frames, start, last, step, t.search)
    tracked = 0
    if t.max_gap:
        for track in link(faces, t.max_gap):
            for (i, a), (j, b) in zip(track, track[1:]):
                for k in range(i + 1, j):
                    w = (k - i) / (j - i)
                    box = [(1 - w) * a[c] + w * b[c] for c in BOX]
                    start = (1 - w) * _points(a) + w * _points(b)
                    row = fitter.row(frames[k], box, min(a["score"], b["score"]), tracked=True, start=start,
                                     like=(a, b))
                    if row is not None:
                        faces[k].append(row)
                        tracked += 1
    if fitter.fitted:
        log.info("lost faces: %d found by the second detector (%s), %d tracked across gaps, %d fits dropped",
                 found, d.second_detector, tracked, fitter.fitted - found - tracked)
    rows = []
    for i, frame in enumerate(frames):
        # the detected faces in their order, then the recovered ones
        rows += [r | {"face": n} for n, r in enumerate(faces[i])] or [no_face(frame) | {"tracked": False}]
    out = al.table(rows, TRACKED_COLUMNS)
    out.attrs = dict(raw.attrs)  # what detection said of the video (al.DROPPED)
    return out


def _search(searcher: _Searcher, faces: dict[int, list[dict]], frames: list[int], start: int, last: dict,
            step: int, patience: int) -> int:
    """Look for the face ``last`` (at position ``start``) in the frames beyond it in
    direction ``step``; returns how many were found."""
    found, missed, i = 0, 0, start + step
    while 0 <= i < len(frames) and missed < patience:
        if any(np.isfinite(_near(r, last)) for r in faces[i]):
            break  # the first detector has it again
        row = searcher.find(frames[i], last)
        if row is None:
            missed += 1
        else:
            faces[i].append(row)
            last, missed, found = row, 0, found + 1
        i += step
    return found

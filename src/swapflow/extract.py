"""Extraction stages: detect (with landmarks), align, mask, faceset.

Each stage takes a list of frame files (see swapflow.frames; the frame index
is the file stem, so a video can be cut into frame ranges) and its settings: a
dataclass of swapflow.settings or a mapping of exactly its keys. The tables
it writes are those of swapflow.alignments.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from swapflow import alignments as al
from swapflow.geometry import OneEuroFilter, align_matrix, blur_score, head_pose, warp
from swapflow.alignments import ALIGN_COLUMNS, BOX, DETECT_COLUMNS, RAW_COLUMNS
from swapflow.anatomy import POINTS
from swapflow.curate import curate
from swapflow.detectors import NONE, Both, Detector, make_detector
from swapflow.faceset import create_faceset
from swapflow.frames import frame_index, progress, read_frame, read_image
from swapflow.identity import Embedder, Reference, select_faces
from swapflow.io import InputError
from swapflow.landmarks import Landmarker, make_landmarker
from swapflow.mask import make_mask, read_masks
from swapflow.settings import AlignConfig, CurateConfig, DetectConfig, FacesetConfig, MaskConfig
from swapflow.schema import from_mapping

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
LOW_CONTRAST = 100  # grey levels between the 1st and 99th percentile of a faded frame
SPAN = (0.01, 0.99)  # those percentiles
BLUR_CROP = 256  # side of the face crop (centering face, crop_fraction 0.7) that blur is measured on
CLAHE_CLIP, CLAHE_TILES = 2.0, 8  # equalisation of faded frames


class ReferenceStillError(InputError):
    """Reference stills that cannot pick a person's face; the message names them."""


def for_models(image: np.ndarray) -> np.ndarray:
    """What the detector and landmarker see: the frame itself, or, for a faded,
    low-contrast frame (grey levels spanning less than LOW_CONTRAST between the
    1st and 99th percentile: old photos), its grey equalised by CLAHE. What is
    stored, measured and swapped is always the frame itself."""
    # the spread of grey levels, measured on every 4th pixel of every 4th row
    sample = cv2.cvtColor(cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_NEAREST),
                          cv2.COLOR_RGB2GRAY)
    cumulative = np.cumsum(cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel())
    low, high = np.searchsorted(cumulative, [SPAN[0] * sample.size, SPAN[1] * sample.size])
    if high - low >= LOW_CONTRAST:
        return image
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=(CLAHE_TILES, CLAHE_TILES)).apply(grey),
                        cv2.COLOR_GRAY2RGB)


def detector_for(c: DetectConfig) -> Detector:
    """The detector the settings ``c`` choose, with its options; on pictures, with
    the second detector beside it (its faces added where the first found none)."""
    first = make_detector(c.detector, threshold=c.threshold, min_size=c.min_size, options=c.options)
    if not c.pictures or c.second_detector == NONE:
        return first
    return Both(first, second_detector_for(c))


def second_detector_for(c: DetectConfig) -> Detector:
    """The second detector the settings ``c`` choose (not ``none``), with its options."""
    return make_detector(c.second_detector, threshold=c.threshold, min_size=c.min_size,
                         options=c.second_options)


def _visited(frame_paths: Sequence[PathLike], c: DetectConfig) -> list[PathLike]:
    return [p for p in frame_paths if frame_index(p) % c.every_n == 0]


def detect_rows(image: np.ndarray, frame: int, detector: Detector, c: DetectConfig) -> tuple[list[dict], int]:
    """The rows of one frame's faces (or its no-face row), and how many faces
    found beyond ``max_faces`` were dropped (the lowest scores)."""
    h, w = image.shape[:2]
    boxes = [
        b for b in detector.detect(image)
        if b[4] >= c.threshold and max(b[2] - b[0], b[3] - b[1]) >= c.min_size * min(w, h)
    ]
    kept = sorted(boxes, key=lambda b: -b[4])[: c.max_faces]
    if not kept:
        return [no_face(frame)], 0
    return [dict(frame=frame, face=i, x0=x0, y0=y0, x1=x1, y1=y1, score=score,
                 truncated=x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h)
            for i, (x0, y0, x1, y1, score) in enumerate(kept)], len(boxes) - len(kept)


def no_face(frame: int) -> dict:
    return dict(frame=frame, face=-1, **dict.fromkeys(BOX, np.nan), score=np.nan, truncated=False)


class _Tracker:
    """One Euro filters keyed on face tracks across consecutive visited frames.

    A face continues the track whose last box centre (in the previous visited
    frame) is nearest, within half a box width; tracks not seen in the
    previous visited frame end, so a frame without faces resets smoothing.
    """

    def __init__(self, min_cutoff: float, beta: float) -> None:
        self.min_cutoff, self.beta = min_cutoff, beta
        self._tracks: list[tuple[np.ndarray, float, OneEuroFilter]] = []

    def step(self, frame: int, boxes: np.ndarray, points: list[np.ndarray]) -> list[np.ndarray]:
        """Smoothed landmarks for this frame's faces (boxes: (n, 4))."""
        old, new, out = self._tracks, [], []
        for box, pts in zip(boxes, points):
            centre, width = (box[:2] + box[2:]) / 2, box[2] - box[0]
            dists = [np.linalg.norm(centre - c) for c, _, _ in old]
            j = int(np.argmin(dists)) if dists else -1
            if j >= 0 and dists[j] < width / 2:
                filt = old.pop(j)[2]
            else:
                filt = OneEuroFilter(self.min_cutoff, self.beta)
            out.append(filt(pts, frame, width))
            new.append((centre, width, filt))
        self._tracks = new
        return out


def embed_stills(identity: str, stills: Sequence[PathLike],
                 cfg: Mapping[str, Any] | DetectConfig | None = None) -> Reference:
    """An identity's reference: the mean embedding of the one face in each still,
    found with the detection settings ``cfg``.

    Raises ReferenceStillError naming the still when it cannot be read, shows no
    face, or shows more than one (which of them would be the person?).
    """
    d = replace(from_mapping(DetectConfig, cfg), pictures=True)
    detector = detector_for(d)
    landmarker, embedder = make_landmarker(d.landmarker), Embedder()
    found = []
    for path in stills:
        try:
            image = read_image(path)
        except InputError as err:
            raise ReferenceStillError(f"reference still {err}") from None
        seen = for_models(image)
        boxes = detector.detect(seen)
        if len(boxes) != 1:
            raise ReferenceStillError(
                f"reference still {path}: {f'{len(boxes)} faces' if boxes else 'no face'} found "
                f"(detector {d.detector}, threshold {d.threshold}); a reference must show the "
                "person's face alone: crop it")
        points = landmarker.landmarks(seen, boxes[0])
        if np.isnan(points).any():
            raise ReferenceStillError(f"reference still {path}: no landmarks found on its face")
        found.append(embedder.embed(image, points))
    return Reference(identity, [str(p) for p in stills], np.mean(found, axis=0))


def extract_frames(frame_paths: Sequence[PathLike], cfg: Mapping[str, Any] | DetectConfig | None = None) -> pd.DataFrame:
    """Detection and raw landmarks with one read of each frame (columns RAW_COLUMNS).

    Every frame is handled on its own, so a video can be cut into frame
    ranges (shards) that run as separate jobs; ``align_faces`` then joins them.
    """
    d = from_mapping(DetectConfig, cfg)
    detector = detector_for(d)
    landmarker = make_landmarker(d.landmarker)
    embedder = Embedder() if d.embeddings else None
    paths = _visited(frame_paths, d)
    rows, dropped = [], []
    for path in progress(paths, "detect+landmarks"):
        image = read_frame(path)
        seen = for_models(image)
        found, lost = detect_rows(seen, frame_index(path), detector, d)
        rows += landmark_rows(image, seen, found, landmarker, embedder)
        if lost:
            dropped.append([frame_index(path), lost])
    raw = al.table(rows, RAW_COLUMNS)
    if not (raw["face"] >= 0).any():
        log.warning("no face detected in %d frames", len(paths))
    if dropped:
        log.warning("max_faces %d: %s", d.max_faces, al.dropped_text(dropped))
    raw.attrs[al.DROPPED] = dropped
    return raw


def landmark_rows(image: np.ndarray, seen: np.ndarray, records: list[dict], landmarker: Landmarker,
                   embedder: Embedder | None, start: np.ndarray | None = None) -> list[dict]:
    """Raw landmarks (found on ``seen``, see for_models), sharpness and identity
    (of ``image``, the frame as it is) of each detected face of one frame.

    Sharpness is measured on a fixed 256 px face crop, whatever crop the
    align settings choose, so that they do not reach back into detection.

    Faces where the landmarker finds nothing are dropped; a frame left without
    faces keeps one no-face row. ``start``: where the points of a single tracked
    face are expected (see Landmarker).
    """
    if records[0]["face"] < 0:
        return records
    h, w = image.shape[:2]
    out = []
    for r in records:
        pts = landmarker.landmarks(seen, np.array([r[k] for k in BOX], float), start)
        if np.isnan(pts).any():
            log.debug("frame %d: no landmarks for face %d", r["frame"], r["face"])
            continue
        crop = warp(image, align_matrix(pts, BLUR_CROP), BLUR_CROP)
        out.append(r | {"landmarks": pts.ravel().tolist(), "blur": blur_score(crop), "width": w, "height": h,
                        "embedding": embedder.embed(image, pts).tolist() if embedder else None})
    return out or [no_face(records[0]["frame"])]


def align_faces(raw: pd.DataFrame, cfg: Mapping[str, Any] | AlignConfig | None = None,
                references: Sequence[Reference] = (), name: str = "video") -> pd.DataFrame:
    """One row per aligned face (columns ALIGN_COLUMNS) from raw landmarks of consecutive frames.

    Landmarks are smoothed over time when ``smoothing`` is on; the matrix and
    pose come from the smoothed landmarks, the blur score and embedding from
    the raw ones. ``keep`` marks the target faces (see identity.select_faces);
    ``references`` (see embed_stills) need embeddings in ``raw``. No image is
    read. When no face matches the references, ReferenceStillError says so,
    naming ``name`` (the video) and the stills.
    """
    c = from_mapping(AlignConfig, cfg)
    tracker = _Tracker(c.smoothing_min_cutoff, c.smoothing_beta) if c.smoothing else None
    rows = []
    for frame, group in raw.sort_values(["frame", "face"]).groupby("frame", sort=True):
        records = [r for r in group.to_dict("records") if r["face"] >= 0]
        points = [np.asarray(r["landmarks"], float).reshape(POINTS, 2) for r in records]
        if tracker:
            points = tracker.step(frame, np.array([[r[k] for k in BOX] for r in records], float).reshape(-1, 4), points)
        for r, pts in zip(records, points):
            rows.append(
                {
                    **{k: r[k] for k in DETECT_COLUMNS},
                    "landmarks": pts.ravel().tolist(),
                    "matrix": align_matrix(pts, c.size, c.centering, c.crop_fraction).ravel().tolist(),
                    "size": c.size,
                    **dict(zip(["yaw", "pitch", "roll"], head_pose(pts, (r["width"], r["height"])))),
                    "blur": r["blur"],
                    "embedding": r["embedding"],
                    "keep": True,
                    "tracked": bool(r.get("tracked", False)),
                }
            )
    aligned = al.table(rows, ALIGN_COLUMNS)
    aligned.attrs[al.DROPPED] = raw.attrs.get(al.DROPPED, [])  # kept by write_alignments
    if not rows:
        log.warning("no face aligned in %d frames", raw["frame"].nunique())
        return aligned
    aligned["keep"] = select_faces(aligned, references, c.identity_threshold, c.keep_all)
    if references and not aligned["keep"].any():
        stills = [still for ref in references for still in ref.stills]
        raise ReferenceStillError(
            f"{name}: none of its {len(aligned)} faces matches the reference stills "
            f"({', '.join(stills)}): the nearest is at distance "
            f"{min(ref.distances(aligned).min() for ref in references):.2f}, "
            f"identity_threshold is {c.identity_threshold}")
    return aligned


def mask_frames(
    frame_paths: Sequence[PathLike], alignments: pd.DataFrame, cfg: Mapping[str, Any] | MaskConfig | None = None
) -> dict[str, np.ndarray]:
    """Masks in aligned space for the kept faces, one array per mask type.

    Returns ``frame`` (N,), ``face`` (N,), ``matrix`` (N, 2, 3), ``size`` ()
    and, for each configured type, uint8 (N, size, size). Frames are read only
    when a mask type needs the aligned crop (``mesh``).
    """
    c = from_mapping(MaskConfig, cfg)
    kept = al.kept_faces(alignments)
    size = int(kept["size"].iloc[0]) if len(kept) else 0
    makers = {t: make_mask(t) for t in c.types}
    paths = {frame_index(p): p for p in frame_paths}
    points, matrices = al.aligned_landmarks(kept), al.matrices(kept)
    out = {t: np.zeros((len(kept), size, size), np.uint8) for t in c.types}
    needs_crop = any(m.needs_crop for m in makers.values())
    for i, frame in enumerate(progress(kept["frame"], "mask", total=len(kept))):
        crop = warp(read_frame(paths[frame]), matrices[i], size) if needs_crop else None
        for t, make in makers.items():
            out[t][i] = make(points[i], size, crop)
    if not len(kept):
        log.warning("no kept faces to mask")
    return {
        "frame": kept["frame"].to_numpy(np.int64),
        "face": kept["face"].to_numpy(np.int64),
        "matrix": matrices,
        "size": np.array(size),
        **out,
    }


def build_faceset(
    frame_paths: Sequence[PathLike],
    alignments: pd.DataFrame,
    masks_path: PathLike,
    out_dir: PathLike,
    cfg: Mapping[str, Any] | FacesetConfig | None = None,
    curation: Mapping[str, Any] | CurateConfig | None = None,
) -> pd.DataFrame:
    """Write the faceset folder (see faceset.py) of the kept faces that curation
    leaves (see swapflow.curate) and return the curation record.

    The mask is ``faceset_mask``, which must be one of the types in the masks
    file; masks are matched to faces by (frame, face). The outlier filter uses
    the alignments' embeddings, or computes them from the frames.
    """
    c = from_mapping(FacesetConfig, cfg)
    k = from_mapping(CurateConfig, curation)
    masks = read_masks(masks_path)
    if c.faceset_mask not in masks:
        raise ValueError(f"mask type {c.faceset_mask!r} not in {masks_path}; add it to mask.types")
    kept = al.kept_faces(alignments)
    mask_row = {(int(f), int(k)): i for i, (f, k) in enumerate(zip(masks["frame"], masks["face"]))}
    missing = [key for key in zip(kept["frame"], kept["face"]) if key not in mask_row]
    if missing:
        raise ValueError(f"{len(missing)} kept faces have no mask in {masks_path}, first {missing[0]}")
    size = int(kept["size"].iloc[0]) if len(kept) else int(masks["size"])
    paths = {frame_index(p): p for p in frame_paths}
    points, matrices = al.aligned_landmarks(kept), al.matrices(kept)
    if k.outlier_distance and len(kept) and kept["embedding"].isna().any():
        kept = kept.assign(embedding=_embeddings(paths, kept))
    columns = ["frame", "face", "yaw", "pitch", "blur"] + (["embedding"] if k.outlier_distance else [])
    record = curate(kept[columns], points / size, k)
    record.attrs[al.DROPPED] = alignments.attrs.get(al.DROPPED, [])  # for curate.counts
    chosen = np.flatnonzero(record["removed"] == "")
    with create_faceset(out_dir, len(chosen), size) as fs:
        for j, i in enumerate(progress(chosen, "faceset")):
            frame, face = int(kept["frame"].iat[i]), int(kept["face"].iat[i])
            fs.faces[j] = warp(read_frame(paths[frame]), matrices[i], size)
            fs.masks[j] = masks[c.faceset_mask][mask_row[(frame, face)]]
            fs.landmarks[j] = points[i]
        fs.index = kept.iloc[chosen][["frame", "face", "yaw", "pitch", "roll", "blur", "score", "matrix"]].copy()
        fs.curation = record
    if not len(chosen):
        log.warning("faceset %s is empty", out_dir)
    return record


def _embeddings(paths: Mapping[int, PathLike], faces: pd.DataFrame) -> list[np.ndarray]:
    """dlib embedding of each face, from its frame and landmarks."""
    embedder = Embedder()
    return [embedder.embed(read_frame(paths[frame]), pts)
            for frame, pts in zip(progress(faces["frame"], "embed"), al.landmarks(faces))]

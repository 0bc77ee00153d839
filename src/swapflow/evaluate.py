"""Evaluate a swap: identity, pose and expression kept, flicker, reconstruction, coverage.

``evaluate_swap`` compares the output of a swap on a target video (B), the
merged video read with ``VideoFrames``, with the video's original (split)
frames, using the alignments convert used and the trained model with its
facesets. All metrics are plain floats/ints in one flat dict (see
``swapflow.summary.METRICS`` for names and meanings); a per-face table holds the faces the
identity and pose metrics were measured on.

Sampling, to stay fast on a CPU (a dlib embedding costs ~0.1-0.2 s a face):
the identity and pose metrics use at most ``swap_faces`` swapped faces spread
evenly over the video; the identity references use at most
``reference_faces`` faces spread evenly over each side's facesets; the
reconstruction metrics use at most ``holdout_faces`` held-out faces a side;
``frames_passed_psnr`` uses at most ``swap_faces`` passed-through frames.
Flicker and the coverage counts use every frame. The output is decoded
forward, once per metric that reads it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from swapflow.geometry import blur_score, head_pose
from swapflow.alignments import BOX, kept_faces
from swapflow.anatomy import interocular
from swapflow.frames import Frames, matched, spread
from swapflow.identity import Embedder, faceset_embedding
from swapflow.landmarks import DlibLandmarker
from swapflow.model_folder import holdout, read_manifest
from swapflow.reconstruction import psnr, reconstruction
from swapflow.settings import EvaluateConfig
from swapflow.schema import from_mapping

log = logging.getLogger(__name__)

PathLike = str | os.PathLike



def _face_table(orig: Frames, conv: Frames, kept: pd.DataFrame, ref_a: np.ndarray,
                ref_b: np.ndarray, n: int, landmarker: DlibLandmarker, embedder: Embedder) -> pd.DataFrame:
    """Identity, pose and sharpness of ``n`` evenly spread kept faces, original vs converted.

    Landmarks are re-run (dlib) at the alignment's box on both frames, so the
    two sides are measured the same way.
    """
    rows = []
    for r in kept.iloc[spread(len(kept), n)].to_dict("records"):
        box = np.array([r[k] for k in BOX], float)
        row: dict[str, Any] = {"frame": int(r["frame"]), "face": int(r["face"])}
        points = {}
        for tag, image in (("", conv[r["frame"]]), ("_original", orig[r["frame"]])):
            pts = landmarker.landmarks(image, box)
            if np.isnan(pts).any():
                break
            points[tag] = pts
            emb = embedder.embed(image, pts)
            da, db = float(np.linalg.norm(emb - ref_a)), float(np.linalg.norm(emb - ref_b))
            h, w = image.shape[:2]
            yaw, pitch, roll = head_pose(pts, (w, h))
            row |= {f"distance_a{tag}": da, f"distance_b{tag}": db, f"closer_to_a{tag}": da < db,
                    f"yaw{tag}": yaw, f"pitch{tag}": pitch, f"roll{tag}": roll,
                    f"sharpness{tag}": blur_score(image[_box_region(r, w, h)])}
        if len(points) < 2:
            log.debug("frame %d: no landmarks, face skipped", r["frame"])
            continue
        iod = max(interocular(points["_original"]), 1e-6)
        row["landmark_nme"] = float(np.linalg.norm(points[""] - points["_original"], axis=1).mean() / iod)
        rows.append(row)
    return pd.DataFrame(rows)


def _box_region(row: Mapping[str, Any], width: int, height: int) -> tuple[slice, slice]:
    x0, y0 = max(int(np.floor(row["x0"])), 0), max(int(np.floor(row["y0"])), 0)
    x1, y1 = min(int(np.ceil(row["x1"])), width), min(int(np.ceil(row["y1"])), height)
    return slice(y0, max(y1, y0)), slice(x0, max(x1, x0))


def flicker(orig: Frames, conv: Frames, kept: pd.DataFrame) -> tuple[float, int]:
    """(ratio, pairs): summed |frame-to-frame change| inside each kept face's box
    of the output over the same in the original, over consecutive frame pairs
    that both hold a kept face. The box is the face's box in the later frame."""
    frames = set(kept["frame"])
    change = np.zeros(2)
    pairs = 0
    cache: dict[tuple[str, int], np.ndarray] = {}

    def gray(tag: str, source: Frames, f: int) -> np.ndarray:
        if (tag, f) not in cache:
            cache[(tag, f)] = cv2.cvtColor(source[f], cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cache[(tag, f)]

    for f in sorted(frames):
        if f - 1 not in frames:
            continue
        for key in [k for k in cache if k[1] < f - 1]:
            del cache[key]
        for r in kept[kept["frame"] == f].to_dict("records"):
            for j, (tag, source) in enumerate((("c", conv), ("o", orig))):
                a, b = gray(tag, source, f - 1), gray(tag, source, f)
                region = _box_region(r, a.shape[1], a.shape[0])
                change[j] += np.abs(b[region] - a[region]).sum()
        pairs += 1
    if not pairs:
        return float("nan"), 0
    if change[1] == 0:
        return (1.0 if change[0] == 0 else float("inf")), pairs
    return float(change[0] / change[1]), pairs


def coverage(orig: Frames, conv: Frames, alignments: pd.DataFrame, n: int) -> dict[str, Any]:
    """The coverage metrics; ``frames_passed_psnr`` on at most ``n`` passed-through frames."""
    frames = range(len(orig))
    kept = kept_faces(alignments)
    swapped = set(kept["frame"]) & set(frames)
    passed = [f for f in frames if f not in swapped]
    sample = [passed[j] for j in spread(len(passed), n)]
    mse = np.array([np.mean((conv[f].astype(np.float64) - orig[f]) ** 2) for f in sample])
    return {
        "frames_total": len(orig),
        "frames_with_face": len(set(alignments.loc[alignments["face"] >= 0, "frame"]) & set(frames)),
        "frames_swapped": len(swapped),
        "frames_passed_through": len(passed),
        "frames_passed_psnr": psnr(mse) if sample else float("nan"),
        "faces_swapped": int(kept["frame"].isin(frames).sum()),
        "faces_tracked": int(kept.loc[kept["frame"].isin(frames), "tracked"].sum()),
    }


def frame_metrics(original_frames: Sequence[PathLike], output: Frames, alignments: pd.DataFrame,
                  facesets_a: Sequence[PathLike], facesets_b: Sequence[PathLike],
                  cfg: Mapping[str, Any] | EvaluateConfig | None = None
                  ) -> tuple[dict[str, Any], pd.DataFrame]:
    """(metrics, faces): what the frames alone tell (coverage, identity, pose,
    landmarks, sharpness, flicker) and one row per measured swapped face
    (frame, face, distance_a/_b, closer_to_a, yaw/pitch/roll, sharpness, each
    also with suffix ``_original``, landmark_nme).

    ``original_frames``: the frame files of the target video; ``output``: the
    swapped video's frames (a ``VideoFrames``, or ``FrameFiles``), one per
    original frame. ``cfg``: see ``EvaluateConfig``.
    """
    c = from_mapping(EvaluateConfig, cfg)
    orig = matched(original_frames, output)
    kept = kept_faces(alignments)
    kept = kept[kept["frame"].isin(range(len(orig)))]
    metrics = coverage(orig, output, alignments, c.swap_faces)

    embedder, landmarker = Embedder(), DlibLandmarker()
    ref_a = faceset_embedding(facesets_a, c.reference_faces, embedder)
    ref_b = faceset_embedding(facesets_b, c.reference_faces, embedder)
    faces = _face_table(orig, output, kept, ref_a, ref_b, c.swap_faces, landmarker, embedder)

    def mean(col: str, fn=lambda s: s) -> float:
        return float(fn(faces[col].astype(float)).mean()) if len(faces) else float("nan")

    metrics |= {
        "id_faces": len(faces),
        "id_ref_distance_ab": float(np.linalg.norm(ref_a - ref_b)),
        "id_retrieval": mean("closer_to_a"),
        "id_distance_a": mean("distance_a"),
        "id_distance_b": mean("distance_b"),
        "id_retrieval_original": mean("closer_to_a_original"),
        "id_distance_a_original": mean("distance_a_original"),
        "id_distance_b_original": mean("distance_b_original"),
    }
    for angle in ("yaw", "pitch", "roll"):
        metrics[f"pose_{angle}_diff"] = float((faces[angle] - faces[f"{angle}_original"]).abs().mean()) \
            if len(faces) else float("nan")
    metrics["landmark_nme"] = mean("landmark_nme")
    metrics["sharpness_ratio"] = float((faces["sharpness"] / faces["sharpness_original"]).median()) \
        if len(faces) else float("nan")
    metrics["flicker_ratio"], metrics["flicker_pairs"] = flicker(orig, output, kept)
    return _strict(metrics), faces


def _strict(metrics: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats (means over nothing) as None, so the dict is strict JSON."""
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def by_coverage(faces: pd.DataFrame, coverage: pd.DataFrame | None) -> tuple[dict[str, Any], pd.DataFrame]:
    """(metrics, faces with ``covered``): identity retrieval apart for the faces
    whose pose A covers and those it does not (``coverage``: the coverage
    rule's table, columns frame, face, covered); NaN without a table."""
    if coverage is None or faces.empty:
        return {"id_faces_uncovered": float("nan") if coverage is None else 0,
                "id_retrieval_covered": float("nan"), "id_retrieval_uncovered": float("nan")}, faces
    faces = faces.merge(coverage[["frame", "face", "covered"]], on=["frame", "face"], how="left")
    found = faces["closer_to_a"].astype(float)
    covered = faces["covered"].fillna(False).astype(bool)
    return {"id_faces_uncovered": int((~covered).sum()),
            "id_retrieval_covered": float(found[covered].mean()) if covered.any() else float("nan"),
            "id_retrieval_uncovered": float(found[~covered].mean()) if (~covered).any() else float("nan"),
            }, faces


def evaluate_swap(original_frames: Sequence[PathLike], output: Frames,
                  alignments: pd.DataFrame, model_dir: PathLike, facesets_a: Sequence[PathLike],
                  facesets_b: Sequence[PathLike], cfg: Mapping[str, Any] | EvaluateConfig | None = None,
                  coverage: pd.DataFrame | None = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """(metrics, faces): the metrics of ``summary.METRICS`` in one flat dict, those of
    ``frame_metrics``, identity retrieval apart for covered and uncovered poses
    (see ``by_coverage``) and the model's reconstruction of held-out faces, and
    the faces table of ``frame_metrics`` with ``covered``.

    Metrics that cannot be measured (means over no faces, a flicker ratio
    over a static source) are None, so the dict is strict JSON.
    """
    c = from_mapping(EvaluateConfig, cfg)
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    metrics: dict[str, Any] = {"face": manifest["identities"]["a"], "target": manifest["identities"]["b"],
                               "model_iterations": manifest.get("iterations"),
                               "model_stopped": manifest.get("stopped")}
    measured, faces = frame_metrics(original_frames, output, alignments, facesets_a, facesets_b, c)
    split, faces = by_coverage(faces, coverage)
    metrics |= measured | split
    from swapflow.train.model_io import load_model  # torch: only when evaluating

    model, _ = load_model(model_dir, device=c.device)
    for side, dirs in (("a", facesets_a), ("b", facesets_b)):
        metrics |= reconstruction(model, dirs, holdout(model_dir, side, dirs), side, c.holdout_faces)
    metrics = _strict(metrics)
    log.info("evaluation: %s", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()})
    return metrics, faces

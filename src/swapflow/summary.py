"""Rule summary's table: every swap's metrics and settings, one row per swap and video."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import pandas as pd

from swapflow.io import read_json

# every figure of an evaluation (evaluate.py's JSON and summary.tsv's columns) and its meaning
METRICS: dict[str, str] = {
    "face": "identity put in (A), from the model's manifest",
    "target": "identity of the target video (B), from the model's manifest",
    "model_iterations": "training iterations of the model",
    "model_stopped": "why its training stopped (iterations reached, or iterations: auto's plateau)",
    # coverage
    "frames_total": "frames in the original video",
    "frames_with_face": "frames where alignments hold at least one face",
    "frames_swapped": "frames with at least one kept (swapped) face",
    "frames_passed_through": "frames without a kept face (passed through unchanged before encoding)",
    "frames_passed_psnr": "mean PSNR (dB) of the output against the original on at most swap_faces of those "
                          "frames, evenly spread: what the encoding alone costs (148 when identical)",
    "faces_swapped": "kept faces over all frames",
    "faces_tracked": "of those, faces the detector missed, predicted from the frames around them "
                     "(extract.track)",
    # identity (dlib 128-d embeddings; same person when distance < ~0.6)
    "id_faces": "swapped faces measured (at most swap_faces, evenly spread; landmark failures dropped)",
    "id_ref_distance_ab": "distance between the A and B reference embeddings",
    "id_retrieval": "share of measured swapped faces whose embedding is closer to A's reference than to B's",
    "id_distance_a": "mean distance of the swapped faces to A's reference (lower = more like A)",
    "id_distance_b": "mean distance of the swapped faces to B's reference (higher = less like B)",
    "id_retrieval_original": "the same share on the original (unswapped) faces: the baseline, near 0",
    "id_distance_a_original": "mean distance of the original faces to A's reference",
    "id_distance_b_original": "mean distance of the original faces to B's reference",
    # pose and expression
    "pose_yaw_diff": "mean |yaw(converted) - yaw(original)|, degrees, landmarks re-run on both frames",
    "pose_pitch_diff": "mean |pitch difference|, degrees",
    "pose_roll_diff": "mean |roll difference|, degrees",
    "landmark_nme": "mean 68-point distance converted vs original / inter-ocular distance (expression kept)",
    # pose coverage (rule coverage: does A's faceset show the target face's pose?)
    "id_faces_uncovered": "measured swapped faces whose pose A's training faces do not cover",
    "id_retrieval_covered": "id_retrieval over the measured faces whose pose A covers",
    "id_retrieval_uncovered": "id_retrieval over those it does not cover: where swaps fail first",
    # detail
    "sharpness_ratio": "median over the measured faces of the variance of the Laplacian in the face box, "
                       "output / original (1.0 = as sharp as the source; a 2x downscale gives about 0.35)",
    # temporal
    "flicker_ratio": "mean |frame-to-frame change| in the face box of the output / the same in the original "
                     "(1.0 = as stable as the source)",
    "flicker_pairs": "consecutive frame pairs with a kept face in both that flicker_ratio was measured on",
    # reconstruction on held-out faces (never trained on)
    "recon_a_faces": "held-out faces of A measured",
    "recon_a_psnr": "PSNR (dB) of swap(face, to='a') vs the face, whole coverage square, unmasked",
    "recon_a_psnr_masked": "PSNR (dB) inside the faceset's face mask only",
    "recon_a_ssim": "SSIM (Gaussian 11x11, sigma 1.5, mean over the whole coverage square), unmasked",
    "recon_a_ssim_masked": "SSIM map averaged with the faceset's face mask as weight",
    "recon_b_faces": "held-out faces of B measured",
    "recon_b_psnr": "as recon_a_psnr, for B",
    "recon_b_psnr_masked": "as recon_a_psnr_masked, for B",
    "recon_b_ssim": "as recon_a_ssim, for B",
    "recon_b_ssim_masked": "as recon_a_ssim_masked, for B",
}

# what tells a swap's quality, first in summary.tsv and in an experiment's
# tables: held-out reconstruction, sharpness, then identity, then the rest
HEADLINE: tuple[str, ...] = (
    "recon_a_psnr_masked", "recon_a_ssim_masked", "recon_b_psnr_masked", "recon_b_ssim_masked",
    "sharpness_ratio", "id_distance_a", "id_retrieval", "flicker_ratio", "landmark_nme", "model_iterations",
)
# the count each group of metrics was measured on; summary.tsv's few_faces names
# those under MIN_FACES (a mean of 2 faces is a figure to distrust)
FACE_COUNTS: tuple[str, ...] = ("recon_a_faces", "recon_b_faces", "id_faces", "flicker_pairs")
MIN_FACES = 8


def summarize(metric_files: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]],
              settings: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """One row per ``"swap/video"`` key of ``metric_files`` (the path of a metrics
    JSON, or several, read in order: the evaluation, the pose coverage):
    columns swap, video, the HEADLINE metrics, ``few_faces`` (the FACE_COUNTS
    under MIN_FACES, e.g. ``recon_b_faces=2``), the other metrics (scalars
    only; nested dicts are flattened with ``.``), then the swap's ``settings``
    (model, preset, ...; sections as ``convert.color``, a list as YAML writes
    it inline: ``[hands]``)."""
    rows = []
    for label, paths in metric_files.items():
        swap, _, video = str(label).partition("/")
        metrics: dict[str, Any] = {}
        for part in map(read_json, [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)):
            metrics |= {k: v for k, v in _flatten(part).items() if not isinstance(v, (list, dict))}
        few = [f"{count}={metrics[count]}" for count in FACE_COUNTS
               if isinstance(metrics.get(count), (int, float)) and metrics[count] < MIN_FACES]
        setting = _flatten((settings or {}).get(label, {}))
        rows.append({"swap": swap, "video": video}
                    | {k: metrics.pop(k) for k in HEADLINE if k in metrics} | {"few_faces": " ".join(few)}
                    | metrics
                    | {k: f"[{', '.join(map(str, v))}]" if isinstance(v, list) else v
                       for k, v in setting.items() if not isinstance(v, dict) and k not in metrics})
    return pd.DataFrame(rows, columns=None if rows else ["swap", "video"])


def _flatten(part: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts as one dict of ``section.key`` names."""
    return pd.json_normalize(dict(part), sep=".").iloc[0].to_dict() if part else {}

"""Rule summary's table: every swap's metrics and settings, one row per swap and video."""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import pandas as pd

from swapflow.io import read_json

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

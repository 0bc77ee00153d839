"""The workflow's extraction of one video, for tests and benchmarks: the functions
the rules detect, align, mask and faceset call, in their order; and a short
training on two extracted videos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from swapflow.extract import align_faces, build_faceset, extract_frames, mask_frames, write_masks
from swapflow.identity import Reference
from swapflow.train.config import compose_config

from swapflow.train.trainer import load_model, train
CONFIG = Path(__file__).resolve().parents[1] / "config"


@dataclass
class Extracted:
    frames: list[Path]
    raw: pd.DataFrame  # the detect table
    alignments: pd.DataFrame
    faceset: Path


def extract(frames: Sequence[Path], out: Path, detect: dict | None = None, align: dict | None = None,
            references: Sequence[Reference] = (), curate: dict | None = None) -> Extracted:
    """Extract ``frames`` into the faceset folder ``out`` (masks next to it), mask
    ``extended``, curated with ``curate`` (the defaults when None)."""
    raw = extract_frames(frames, detect or {})
    alignments = align_faces(raw, align or {}, references)
    masks = out.with_suffix(".npz")
    write_masks(masks, mask_frames(frames, alignments, {}))
    build_faceset(frames, alignments, masks, out, {"faceset_mask": "extended"}, curate)
    return Extracted(list(frames), raw, alignments, out)


def lite_model(root: Path, a: Extracted, b: Extracted, iterations: int):
    """A lite model trained ``iterations`` steps (batch 8) on faceset A and B, loaded."""
    cfg = compose_config(CONFIG, "lite", [f"iterations={iterations}", "batch_size=8", "min_faces=10",
                                          "log_every_s=0"])
    return load_model(train(cfg, [a.faceset], [b.faceset], root / "model", root / "ckpt", threads=2))[0]

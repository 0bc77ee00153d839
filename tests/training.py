"""A short training on two extracted videos (``swapflow.pipeline.extract``), for tests."""

from __future__ import annotations

from pathlib import Path

from swapflow.pipeline import Extracted
from swapflow.train.config import compose_config
from swapflow.train.model_io import load_model
from swapflow.train.trainer import train
from tests.conftest import TRAIN_CONFIG



# the 256 px preset at a CPU's scale: its size, architecture and data path, an eighth to a
# sixteenth of its widths
DF256_SMALL = ["model.encoder=[8,16,32,64]", "model.dense=64", "model.bottleneck=32", "model.decoder=[32,16,8]",
               "model.lr=5e-4", "curve.holdout_faces=8", "curve.swap_faces=0"]


def lite_model(root: Path, a: Extracted, b: Extracted, iterations: int, preset: str = "lite",
               overrides: tuple[str, ...] = ()):
    """A ``preset`` model (lite) trained ``iterations`` steps (batch 8) on faceset A and B, loaded."""
    cfg = compose_config(TRAIN_CONFIG, preset, [f"iterations={iterations}", "batch_size=8", "min_faces=10",
                                                "log_every_s=0", *overrides])
    return load_model(train(cfg, [a.faceset], [b.faceset], root / "model", root / "ckpt", threads=2))[0]

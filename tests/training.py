"""A short training on two extracted videos (``swapflow.pipeline.extract``), for tests."""

from __future__ import annotations

from pathlib import Path

from swapflow.pipeline import Extracted
from swapflow.train.config import compose_config
from swapflow.train.model_io import load_model
from swapflow.train.trainer import train
from tests.conftest import TRAIN_CONFIG



def lite_model(root: Path, a: Extracted, b: Extracted, iterations: int):
    """A lite model trained ``iterations`` steps (batch 8) on faceset A and B, loaded."""
    cfg = compose_config(TRAIN_CONFIG, "lite", [f"iterations={iterations}", "batch_size=8", "min_faces=10",
                                          "log_every_s=0"])
    return load_model(train(cfg, [a.faceset], [b.faceset], root / "model", root / "ckpt", threads=2))[0]

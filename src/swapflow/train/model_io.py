"""A model folder's weights and pictures: written whole at the end of training, its model loaded by convert and evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from swapflow.frames import write_jpeg
from swapflow.io import atomic_path, load_tensors, save_tensors
from swapflow.model_folder import (CONFIG, CURVE, CURVE_PLOT, LOSS_PLOT, LOSSES, PREVIEW, TIMELAPSE, WEIGHTS,
                                   PathLike,
                                   write_manifest)
from swapflow.train import timelapse
from swapflow.train.curve import plot_curve, plot_losses
from swapflow.train.device import resolve_device
from swapflow.train.models import FaceSwapModel, build_model


def write(out: PathLike, model: FaceSwapModel, cfg: DictConfig, identities: dict[str, str],
          usual_error: list[torch.Tensor] | None, manifest: dict[str, Any], history: pd.DataFrame,
          curve: pd.DataFrame, preview: np.ndarray, stopped_at: int | None, checkpoint_dir: Path,
          iteration: int) -> Path:
    """Write the model folder ``out`` atomically (nothing of it is there until
    all of it is): the weights with what rebuilds the model, the config, the
    manifest, the losses and the curve with their plots, the preview, and the
    timelapse of ``checkpoint_dir``'s frames up to ``iteration``."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        save_tensors({"state_dict": model.state_dict(), "preset": cfg.preset,
                      "config": OmegaConf.to_container(cfg, resolve=True),
                      "identities": identities, "usual_error": usual_error},
                     tmp / WEIGHTS, Path(out) / WEIGHTS)
        (tmp / CONFIG).write_text(OmegaConf.to_yaml(cfg))
        write_manifest(tmp, manifest)
        history.to_csv(tmp / LOSSES, index=False)
        curve.to_csv(tmp / CURVE, sep="\t", index=False)
        write_jpeg(tmp / PREVIEW, preview)
        plot_losses(history, tmp / LOSS_PLOT)
        plot_curve(curve, tmp / CURVE_PLOT, stopped_at)
        timelapse.write_gif(checkpoint_dir, tmp / TIMELAPSE, iteration)
    return Path(out)


def load_model(folder: PathLike, device: str = "cpu") -> tuple[FaceSwapModel, DictConfig]:
    """Rebuild a trained model from its folder; returns (model in eval mode, config).
    Weights that hold code, or are damaged, raise InputError naming the file."""
    dev = resolve_device(device)
    saved = load_tensors(Path(folder) / WEIGHTS, dev, "model",
                         "train it again (remove the model folder)")
    cfg = OmegaConf.create(saved["config"])
    model = build_model(cfg.model)
    model.load_state_dict(saved["state_dict"])
    usual = saved.get("usual_error")  # absent from models written before it
    model.usual_error = None if usual is None else tuple(t.cpu().numpy() for t in usual)
    return model.to(dev).eval(), cfg

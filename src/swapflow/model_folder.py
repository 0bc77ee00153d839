"""The model folder that ``train`` writes and convert, evaluate and provenance read.

``results/model/<model>/`` holds:

- ``model.pt``       the weights, the preset and the composed config (torch)
- ``config.yaml``    the composed training config
- ``manifest.json``  identities, facesets (path, faces, content hash, held-out
  face indices), preset, iterations, seed, device, versions, times
- ``curve.tsv``      the learning curve: held-out reconstruction and the swap's
  identity distance and sharpness every ``curve.every`` iterations
- ``losses.csv``, ``preview.jpg``, ``loss.png``, ``curve.png``  for people to look at

This module reads and writes all of it; torch and the plots are imported only
by the functions that need them, so reading the manifest stays light.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from swapflow.faceset import faceset_hash
from swapflow.io import InputError, atomic_path, load_tensors, load_yaml, read_json, save_tensors, write_json

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from omegaconf import DictConfig

    from swapflow.train.models import FaceSwapModel

log = logging.getLogger(__name__)
PathLike = str | os.PathLike
WEIGHTS = "model.pt"
CONFIG = "config.yaml"
MANIFEST = "manifest.json"
LOSSES = "losses.csv"
PREVIEW = "preview.jpg"
LOSS_PLOT = "loss.png"
CURVE = "curve.tsv"
CURVE_PLOT = "curve.png"


def write_manifest(folder: PathLike, manifest: dict[str, Any]) -> None:
    write_json(Path(folder) / MANIFEST, manifest)


def read_manifest(folder: PathLike) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise InputError(f"{folder}: no trained model here (no {MANIFEST})")
    return read_json(path)


def training_config(folder: PathLike) -> dict[str, Any]:
    """The composed training config the model was trained with."""
    return load_yaml(Path(folder) / CONFIG)


def check_identities(folder: PathLike, face: str, target: str) -> None:
    """Refuse a model trained for other identities than a swap's."""
    trained = read_manifest(folder)["identities"]
    if (trained["a"], trained["b"]) != (face, target):
        raise InputError(f"{folder}: model was trained to put {trained['a']} on "
                         f"{trained['b']}, but this swap puts {face} on {target}")


def holdout(folder: PathLike, side: str, faceset_dirs: Sequence[PathLike]) -> list[tuple[Path, np.ndarray]]:
    """(faceset, held-out face indices) for each given faceset of ``side`` that the
    model was trained on (matched by content hash); the others are left out
    with a warning."""
    entries = {e["hash"]: e for e in read_manifest(folder)["facesets"][side]}
    out = []
    for d in faceset_dirs:
        entry = entries.get(faceset_hash(d))
        if entry is None:
            log.warning("faceset %s is not one model %s was trained on: no held-out faces known", d, folder)
        else:
            out.append((Path(d), np.asarray(entry["holdout_indices"], int)))
    return out


def write(out: PathLike, model: "FaceSwapModel", cfg: "DictConfig", identities: dict[str, str],
          usual_error: list["torch.Tensor"] | None, manifest: dict[str, Any], history: "pd.DataFrame",
          curve: "pd.DataFrame", preview: np.ndarray, stopped_at: int | None) -> Path:
    """Write the model folder ``out`` atomically (nothing of it is there until
    all of it is): the weights with what rebuilds the model, the config, the
    manifest, the losses and the curve with their plots, the preview."""
    from omegaconf import OmegaConf

    from swapflow.frames import write_jpeg
    from swapflow.train.curve import plot_curve, plot_losses

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
    return Path(out)


def load_model(folder: PathLike, device: str = "cpu") -> tuple["FaceSwapModel", "DictConfig"]:
    """Rebuild a trained model from its folder; returns (model in eval mode, config).
    Weights that hold code, or are damaged, raise InputError naming the file."""
    from omegaconf import OmegaConf

    from swapflow.train.device import resolve_device
    from swapflow.train.models import build_model

    dev = resolve_device(device)
    saved = load_tensors(Path(folder) / WEIGHTS, dev, "model",
                         "train it again (remove the model folder)")
    cfg = OmegaConf.create(saved["config"])
    model = build_model(cfg.model)
    model.load_state_dict(saved["state_dict"])
    usual = saved.get("usual_error")  # absent from models written before it
    model.usual_error = None if usual is None else tuple(t.cpu().numpy() for t in usual)
    return model.to(dev).eval(), cfg

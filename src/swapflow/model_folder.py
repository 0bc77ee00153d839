"""The model folder that ``train`` writes and convert, evaluate and provenance read.

``results/model/<model>/`` holds:

- ``model.pt``       the weights, the preset and the composed config (torch)
- ``config.yaml``    the composed training config
- ``manifest.json``  identities, facesets (path, faces, content hash, held-out
  face indices), preset, iterations, seed, device, versions, times
- ``curve.tsv``      the learning curve: held-out reconstruction and the swap's
  identity distance and sharpness every ``curve.every`` iterations
- ``losses.csv``, ``preview.jpg``, ``loss.png``, ``curve.png``  for people to look at
- ``timelapse.gif``  the same faces (A, A rebuilt, B, B drawn by decoder A) every
  ``preview_every`` iterations (swapflow.train.timelapse)

This module names the files and reads and writes the manifest and config, with
no torch (provenance and the report read them); swapflow.train.model_io writes
the whole folder at the end of training and loads the weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from swapflow.faceset import faceset_hash
from swapflow.io import InputError, load_yaml, read_json, write_json

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
TIMELAPSE = "timelapse.gif"


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

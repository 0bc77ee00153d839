"""Checkpoints of a training run: what its state depends on (the fingerprint), writing one, finding the one to go on from, reading it back safely.

A checkpoint folder holds checkpoint.pt (weights, optimizer, history, curve,
random state) with checkpoint.json beside it (the fingerprint's digest and the
iteration: enough to choose among checkpoints without loading them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from swapflow import model_folder as folder
from swapflow.io import InputError, atomic_path, load_tensors, read_json, save_tensors, write_json
from swapflow.train.config import schedule_length

log = logging.getLogger("swapflow.train")
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_INFO = "checkpoint.json"
# Config keys a resumed run may change without invalidating its checkpoint: how
# long it runs (unless the learning rate depends on it) and how it runs.
RUN_ONLY_KEYS = ("iterations", "stop", "device", "precision", "channels_last", "compile",
                 "checkpoint_every", "preview_every", "log_every_s")
RUN_ONLY_DATA_KEYS = ("device_memory_gib",)


class CheckpointError(InputError):
    """A checkpoint file that cannot be read safely (foreign, damaged, or holding code)."""


def training_keys(cfg: DictConfig) -> dict:
    """What the state at an iteration depends on: the config without the keys
    that may change between a run and its resume or continuation. How long a
    run lasts stays out while the learning rate does not depend on it (a
    constant schedule); with a schedule its length is in. ``iterations: auto``
    runs continue only each other, with the same stop rule."""
    keys = OmegaConf.to_container(cfg, resolve=True)
    for name in RUN_ONLY_KEYS:
        keys.pop(name, None)
    for name in RUN_ONLY_DATA_KEYS:
        keys["data"].pop(name, None)
    if cfg.lr_schedule != "constant":
        keys["schedule_length"] = schedule_length(cfg)
    if cfg.iterations == "auto":
        keys["stop"] = {k: v for k, v in OmegaConf.to_container(cfg.stop).items() if k != "max_iterations"}
    return keys


def fingerprint(cfg: DictConfig, faceset_hashes: dict[str, list[str]], start: dict | None = None
                ) -> tuple[dict, str]:
    """The fingerprint of a run's state (its training keys, its facesets' content
    hashes and, when it started from another model, that start) and its digest."""
    keys = {"config": training_keys(cfg), "facesets": faceset_hashes} | ({"start": start} if start else {})
    return keys, hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()


def write(folder_: Path, state: dict, digest: str, history: list[dict]) -> None:
    """Write ``state`` (tensors and plain values only: it is read back with
    ``weights_only``) as this folder's checkpoint, its record and losses.csv."""
    folder_.mkdir(parents=True, exist_ok=True)
    save_tensors(state, folder_ / CHECKPOINT)
    write_json(folder_ / CHECKPOINT_INFO, {"fingerprint": digest, "iteration": state["iteration"]})
    with atomic_path(folder_ / folder.LOSSES) as tmp:
        pd.DataFrame(history).to_csv(tmp, index=False)
    log.info("checkpoint at iteration %d -> %s", state["iteration"], folder_ / CHECKPOINT)


def candidates(folder_: Path, digest: str, length: int) -> list[tuple[Path, int | None]]:
    """The checkpoints to go on from, best first, each with the iteration its
    record gives: of all checkpoints in ``folder_`` and the folders beside it
    whose record carries ``digest``, the furthest not past ``length``
    (``folder_``'s own first among equals); last ``folder_``'s own, whatever its
    record says (None). A record only chooses: the state read is checked."""
    own = folder_ / CHECKPOINT
    found: list[tuple[int, bool, Path]] = []
    for info in folder_.parent.glob(f"*/{CHECKPOINT_INFO}"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            record = read_json(info)
            checkpoint = info.with_name(CHECKPOINT)
            if record["fingerprint"] == digest and record["iteration"] <= length and checkpoint.exists():
                found.append((int(record["iteration"]), checkpoint == own, checkpoint))
    best = [(path, iteration) for iteration, _, path in sorted(found, reverse=True)]
    return best + ([(own, None)] if own.exists() and own not in [p for p, _ in best] else [])


def unusable(state: dict, recorded: int | None, fingerprint: dict, length: int) -> str | None:
    """Why a run of ``fingerprint`` and ``length`` iterations cannot go on from
    ``state`` (a checkpoint whose record gave ``recorded``), or None. The
    weights' own iteration counts, whatever the record says: a record edited, or
    left behind by a kill between the two files, must not make a run go past its
    end or start from weights it does not describe."""
    if state["fingerprint"] != fingerprint:
        return "is from another config or other facesets"
    if state["iteration"] > length:
        record = f" (its record says {recorded})" if recorded not in (None, state["iteration"]) else ""
        return f"holds iteration {state['iteration']}{record}, past this run's {length}"
    return None


def read(path: Path, device: torch.device) -> dict:
    """The state in checkpoint ``path``; CheckpointError if it holds code or is damaged."""
    try:
        return load_tensors(path, device, "checkpoint", "remove it to train from the start")
    except InputError as err:
        raise CheckpointError(str(err)) from None

"""What the GPU kit's scripts share: the kit folder's layout, facesets packed as
JPEG/PNG bytes (a faceset's raw arrays are 30x larger than the kit may carry)
and the speed measure of a trainer.

Needs only what the GPU image has (numpy, cv2, pandas, pyarrow, torch) and
the swapflow modules of training and convert.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pandas as pd
import torch

from swapflow.faceset import create_faceset, load_faceset
from swapflow.train import distributed
from swapflow.train.losses import face_loss

FACESETS = "facesets"      # <name>.npz, one per faceset
TARGET = "target"          # frames/ (the target clip's frame files) and alignments.parquet
WHEELS = "wheels"          # pure-Python wheels the GPU image lacks
IDENTITIES = ("woman", "man")  # A (the face) and B (the target), as in the demo
FACE_QUALITY = 95


def _encode(images: np.ndarray, ext: str, params: list[int]) -> tuple[np.ndarray, np.ndarray]:
    blobs = [cv2.imencode(ext, np.ascontiguousarray(img), params)[1] for img in images]
    return np.concatenate(blobs) if blobs else np.zeros(0, np.uint8), np.array([len(b) for b in blobs])


def _decode(data: np.ndarray, lengths: np.ndarray, flags: int) -> list[np.ndarray]:
    ends = np.cumsum(lengths)
    return [cv2.imdecode(data[end - n:end], flags) for end, n in zip(ends, lengths)]


def pack_faceset(faceset: Path, out: Path) -> None:
    """The faceset folder as one .npz: faces JPEG (quality 95), masks PNG,
    landmarks and index as they are."""
    fs = load_faceset(faceset)
    faces, face_len = _encode(np.asarray(fs.faces)[..., ::-1], ".jpg", [cv2.IMWRITE_JPEG_QUALITY, FACE_QUALITY])
    masks, mask_len = _encode(np.asarray(fs.masks), ".png", [cv2.IMWRITE_PNG_COMPRESSION, 9])
    index = io.BytesIO()
    fs.index.to_parquet(index, index=False)
    np.savez(out, faces=faces, face_len=face_len, masks=masks, mask_len=mask_len,
             landmarks=np.asarray(fs.landmarks), index=np.frombuffer(index.getvalue(), np.uint8))


def unpack_faceset(packed: Path, out: Path) -> Path:
    """A faceset folder ``out`` from ``pack_faceset``'s file."""
    data = np.load(packed)
    faces = _decode(data["faces"], data["face_len"], cv2.IMREAD_COLOR)
    masks = _decode(data["masks"], data["mask_len"], cv2.IMREAD_GRAYSCALE)
    with create_faceset(out, len(faces), faces[0].shape[0] if faces else 0) as fs:
        for i, (face, mask) in enumerate(zip(faces, masks)):
            fs.faces[i], fs.masks[i] = face[..., ::-1], mask
        fs.landmarks[:] = data["landmarks"]
        fs.index = pd.read_parquet(io.BytesIO(data["index"].tobytes()))
    return out


@contextlib.contextmanager
def one_process_group(active: bool = True) -> Iterator[None]:
    """Within the block, a Trainer joins a process group of one (as under
    ``torchrun --nproc-per-node 1``) and trains through DistributedDataParallel."""
    if not active:
        yield
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    os.environ.update(env)
    try:
        yield
    finally:
        distributed.leave()
        for name in env:
            del os.environ[name]


def floor_speed(trainer, iterations: int, warmup: int) -> float:
    """samples/s of the least work a training step must do: ``trainer``'s
    model, loss, precision and optimizer on one batch made before timing."""
    batches = trainer.batches()
    a, b = batches["a"], batches["b"]
    cfg = trainer.cfg

    def step() -> None:
        trainer.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(trainer.device.type, dtype=trainer.dtype or torch.float32,
                            enabled=trainer.dtype is not None):
            out = trainer.net(a.warped, b.warped)
        total = sum(face_loss(face, batch.target, batch.weight, mask, batch.mask, cfg.loss)["total"]
                    for batch, (face, mask) in zip((a, b), out))
        trainer.scaler.scale(total).backward()
        trainer.scaler.step(trainer.optimizer)
        trainer.scaler.update()

    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(iterations):
        step()
    sync()
    return 2 * int(cfg.batch_size) * iterations / (time.perf_counter() - t0)


def trainer_speed(trainer, iterations: int, warmup: int) -> dict[str, float]:
    """samples/s and (on cuda) peak memory of ``iterations`` more steps of
    ``trainer`` after ``warmup`` steps (compilation happens there)."""
    trainer.cfg.iterations = trainer.iteration + warmup
    trainer.fit()
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    trainer.cfg.iterations = trainer.iteration + iterations
    speed = trainer.fit()
    if trainer.device.type == "cuda":
        speed["peak_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
    return speed

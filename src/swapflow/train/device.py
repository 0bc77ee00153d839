"""Where and how training computes: the device, the autocast precision, the memory layout, the threads."""

from __future__ import annotations

import os

import cv2
import torch

from swapflow.schema import ConfigError


def resolve_device(name: str, index: int = 0) -> torch.device:
    """``auto`` is cuda when available, else cpu; ``auto`` and ``cuda`` mean
    GPU ``index`` (a process's local rank)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(f"cuda:{index}" if name == "cuda" else name)


def cpu_has_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels here (AVX512-BF16/AMX); without
    them bf16 autocast on CPU is emulated and slower than fp32."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """dtype for torch.autocast, or None for plain fp32."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_bf16() else None
    choices = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision fp16 needs a cuda device; use bf16 or fp32 on cpu")
    return choices[precision]


def channels_last(setting: bool | str, device: torch.device) -> bool:
    """``channels_last: auto`` is on for cuda (tensor cores want it), off on cpu."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


def limit_threads(threads: int, opencv: bool = False) -> None:
    """Never more torch threads than cores this process may run on (oversubscribed
    threads measured 8x slower on a busy 2-core machine); OpenCV runs on one
    (its work in training is tiny) or, with ``opencv``, as many as torch."""
    torch.set_num_threads(max(1, min(threads, len(os.sched_getaffinity(0)))))
    cv2.setNumThreads(torch.get_num_threads() if opencv else 1)

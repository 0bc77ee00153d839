"""Colour matching of a swapped face to the face it replaces, chosen by name.

Each matcher takes the swapped face and the original face (uint8 RGB, same
shape) and a float mask in [0, 1] of where the face is, and returns the
swapped face recoloured (uint8 RGB). Statistics come from the masked pixels
only, so background does not leak into the face colour.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from swapflow.plugins import Registry

ColorMatch = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _masked(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    pixels = image[mask > 0.5]
    return pixels if len(pixels) >= 16 else image.reshape(-1, image.shape[-1])


def no_match(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return swapped


def average(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift each channel so the face's mean colour equals the original's."""
    shift = _masked(original, mask).mean(0) - _masked(swapped, mask).mean(0)
    return np.clip(swapped + shift, 0, 255).astype(np.uint8)


def reinhard(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer (RCT): match mean and spread per channel in LAB."""
    src = cv2.cvtColor(swapped, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(original, cv2.COLOR_RGB2LAB).astype(np.float32)
    inside = (mask > 0.5).astype(np.uint8)
    if inside.sum() < 16:
        inside = None
    src_mean, src_std = (v.ravel() for v in cv2.meanStdDev(src, mask=inside))
    ref_mean, ref_std = (v.ravel() for v in cv2.meanStdDev(ref, mask=inside))
    out = (src - src_mean) * (ref_std / np.maximum(src_std, 1e-3)) + ref_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def histogram(swapped: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match each channel's histogram inside the mask to the original's."""
    out = np.empty_like(swapped)
    src_px, ref_px = _masked(swapped, mask), _masked(original, mask)
    levels = np.arange(256)
    for c in range(3):
        src_cdf = np.cumsum(np.bincount(src_px[:, c], minlength=256)) / len(src_px)
        ref_cdf = np.cumsum(np.bincount(ref_px[:, c], minlength=256)) / len(ref_px)
        lut = np.interp(src_cdf, ref_cdf, levels).astype(np.uint8)
        out[..., c] = lut[swapped[..., c]]
    return out


COLOR_MATCHERS: Registry[ColorMatch] = Registry("colour match", {
    "none": "swapflow.color:no_match",
    "average": "swapflow.color:average",
    "rct": "swapflow.color:reinhard",
    "histogram": "swapflow.color:histogram",
})


def get_color_matcher(name: str) -> ColorMatch:
    """The colour match registered as ``name``."""
    return COLOR_MATCHERS.get(name)

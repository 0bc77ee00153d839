"""What a model rebuilds of faces it never saw: PSNR and SSIM of held-out faceset faces through their own decoder, and decoder B's usual error at each pixel.

Evaluate reports the PSNR and SSIM and training draws its learning curve with
them; the usual error is stored with a model and read by the
``reconstruction`` occlusion source. Needs no dlib or mediapipe.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import cv2
import numpy as np

from swapflow.faceset import load_faceset
from swapflow.frames import spread

if TYPE_CHECKING:
    from swapflow.convert import Swapper

PathLike = str | os.PathLike
USUAL_FACES = 64  # faces whose reconstruction errors give the usual error at each pixel
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a normal distribution


def reconstruction(model, faceset_dirs: Sequence[PathLike], holdout: Sequence[tuple[Path, np.ndarray]],
                   side: str, n: int) -> dict[str, float]:
    """PSNR / SSIM of ``model.swap(face, to=side)`` on at most ``n`` held-out faces,
    against the face's coverage square resized to the model's size (INTER_AREA,
    as swap does). ``psnr`` and ``ssim`` cover the whole square; ``psnr_masked``
    and ``ssim_masked`` weigh pixels by the faceset's face mask (the models'
    loss is weighted to the face too, so the masked figures are the telling ones)."""
    picks = [(d, int(i)) for d, idx in holdout for i in idx]
    picks = [picks[j] for j in spread(len(picks), n)]
    prefix = f"recon_{side}_"
    if not picks:
        return {prefix + "faces": 0} | dict.fromkeys(
            [prefix + k for k in ("psnr", "psnr_masked", "ssim", "ssim_masked")], float("nan"))
    sets = {d: load_faceset(d) for d, _ in holdout}
    faces = np.stack([np.asarray(sets[d].faces[i]) for d, i in picks])
    masks = np.stack([np.asarray(sets[d].masks[i]) for d, i in picks])
    out, _ = model.swap(faces, to=side)
    mask = model.coverage_crop(masks).astype(np.float32) / 255
    return {prefix + "faces": len(picks)} | {prefix + k: v for k, v in
                                             scores(out, model.coverage_crop(faces), mask).items()}


def scores(out: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of rebuilt faces ``out`` against ``target`` (uint8 (N, S, S, 3)),
    over the whole square and weighted by ``mask`` (float (N, S, S) in [0, 1]);
    each PSNR is that of the mean squared error over the faces."""
    import torch

    from swapflow.ssim import ssim_map

    err = (out.astype(np.float64) - target.astype(np.float64)) ** 2
    mse = err.mean(axis=(1, 2, 3))
    mse_masked = (err.mean(-1) * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1e-6)
    with torch.no_grad():
        x = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255
        y = torch.from_numpy(target).permute(0, 3, 1, 2).float() / 255
        smap = ssim_map(x, y)[:, 0].numpy().astype(np.float64)
    ssim_masked = (smap * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1e-6)
    return {"psnr": psnr(mse), "psnr_masked": psnr(mse_masked),
            "ssim": float(smap.mean()), "ssim_masked": float(ssim_masked.mean())}


def psnr(mse: np.ndarray) -> float:
    """Mean PSNR (dB) of 8-bit images with these mean squared errors (148 for 0)."""
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))


def reconstruction_errors(seen: np.ndarray, rebuilt: np.ndarray) -> np.ndarray:
    """How far each face (``seen``: what the model sees of the crops, uint8 RGB
    (N, s, s, 3)) is from its rebuild by the target's own decoder: float32 (N, s, s),
    the mean absolute RGB difference / 255 after blurring both over 1/32 of the
    side (detail the model blurs away is not an occluder)."""
    sigma = seen.shape[1] / 32

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)

    return np.stack([np.abs(blur(a) - blur(b)).mean(-1) / 255 for a, b in zip(seen, rebuilt)]
                    ) if len(seen) else np.zeros(seen.shape[:3], np.float32)


def decoder_errors(model: "Swapper", crops: np.ndarray) -> np.ndarray:
    """``reconstruction_errors`` of faceset-style ``crops`` rebuilt by the model's
    decoder B (what training measures on B's held-out faces and convert on the video's)."""
    rebuilt, _ = model.swap(crops, to="b")
    return reconstruction_errors(model.coverage_crop(crops), rebuilt)


def usual_error(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The usual error at each pixel of ``errors`` (N, s, s) of N faces: their
    median, and their spread (the median absolute deviation, as a standard deviation)."""
    usual = np.median(errors, axis=0)
    return usual, MAD_TO_SIGMA * np.median(np.abs(errors - usual), axis=0)

"""What a model rebuilds of faces it never saw: PSNR and SSIM of held-out
faceset faces through their own decoder (evaluate reports them, training
draws its learning curve with them). Needs no dlib or mediapipe."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from swapflow.faceset import load_faceset
from swapflow.frames import spread

PathLike = str | os.PathLike


def reconstruction(model, faceset_dirs: Sequence[PathLike], holdout: Sequence[tuple[Path, np.ndarray]],
                   side: str, n: int) -> dict[str, float]:
    """PSNR / SSIM of ``model.swap(face, to=side)`` on at most ``n`` held-out faces,
    against the face's coverage square resized to the model's size (INTER_AREA,
    as swap does). ``psnr`` and ``ssim`` cover the whole square; ``psnr_masked``
    and ``ssim_masked`` weigh pixels by the faceset's face mask (the models'
    loss is weighted to the face too, so the masked figures are the telling ones)."""
    import torch

    from swapflow.ssim import ssim_map

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
    target = model.coverage_crop(faces)
    mask = model.coverage_crop(masks).astype(np.float32) / 255
    err = (out.astype(np.float64) - target.astype(np.float64)) ** 2
    mse = err.mean(axis=(1, 2, 3))
    mse_masked = (err.mean(-1) * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1e-6)
    with torch.no_grad():
        x = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255
        y = torch.from_numpy(target).permute(0, 3, 1, 2).float() / 255
        smap = ssim_map(x, y)[:, 0].numpy().astype(np.float64)
    ssim_masked = (smap * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1e-6)
    return {prefix + "faces": len(picks), prefix + "psnr": psnr(mse), prefix + "psnr_masked": psnr(mse_masked),
            prefix + "ssim": float(smap.mean()), prefix + "ssim_masked": float(ssim_masked.mean())}


def psnr(mse: np.ndarray) -> float:
    """Mean PSNR (dB) of 8-bit images with these mean squared errors (148 for 0)."""
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))

"""Weighted SSIM + L1 + image-gradient face loss and the learned-mask loss (computed in fp32)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig


def _gaussian(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Per-pixel SSIM of images in [0, 1], averaged over channels: (N, 1, H, W).

    The five local means (x, y, x², y², xy) are one separable Gaussian blur of
    the five stacked: a column pass and a row pass of one grouped convolution each."""
    c = x.shape[1]
    g = _gaussian(window, sigma, x.device).to(x.dtype)
    pad = window // 2
    stack = torch.cat([x, y, x * x, y * y, x * y], 1)
    k = 5 * c
    blurred = F.conv2d(F.pad(stack, [pad] * 4, mode="reflect"), g.view(1, 1, window, 1).expand(k, 1, window, 1),
                       groups=k)
    blurred = F.conv2d(blurred, g.view(1, 1, 1, window).expand(k, 1, 1, window), groups=k)
    mu_x, mu_y, xx, yy, xy = blurred.split(c, 1)
    var_x = xx - mu_x ** 2
    var_y = yy - mu_y ** 2
    cov = xy - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.mean(1, keepdim=True)


def gradient_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted L1 between the horizontal and vertical pixel differences of
    ``pred`` and ``target``: a blur that L1 and SSIM let pass at low weight
    flattens edges, and this term sees it."""
    total, norm = pred.new_zeros(()), pred.new_zeros(())
    for dim in (2, 3):
        n = pred.shape[dim] - 1
        diff = (pred.diff(dim=dim) - target.diff(dim=dim)).abs().mean(1, keepdim=True)
        w = weight.narrow(dim, 1, n)
        total, norm = total + (diff * w).sum(), norm + w.sum()
    return total / (norm + 1e-6)


def face_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
              pred_mask: torch.Tensor | None, mask: torch.Tensor, cfg: DictConfig
              ) -> dict[str, torch.Tensor]:
    """Loss terms of one side. ``weight`` (N,1,H,W) is zero-ish off the face and
    larger on eyes and mouth; returns the terms and their weighted ``total``."""
    pred = pred.float()
    norm = weight.sum() + 1e-6
    terms = {"l1": ((pred - target).abs().mean(1, keepdim=True) * weight).sum() / norm,
             "ssim": ((1 - ssim_map(pred, target)) / 2 * weight).sum() / norm}
    total = cfg.l1 * terms["l1"] + cfg.ssim * terms["ssim"]
    if cfg.gradient:
        terms["gradient"] = gradient_l1(pred, target, weight)
        total = total + cfg.gradient * terms["gradient"]
    if pred_mask is not None:
        terms["mask"] = F.mse_loss(pred_mask.float(), mask)
        total = total + cfg.mask * terms["mask"]
    terms["total"] = total
    return terms

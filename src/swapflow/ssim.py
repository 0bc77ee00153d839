"""Structural similarity (SSIM) of two images as a per-pixel map, in torch: training's
loss learns with it and evaluation measures held-out faces with it."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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

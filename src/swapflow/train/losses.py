"""Weighted SSIM + L1 + image-gradient face loss and the learned-mask loss (computed in fp32)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from swapflow.ssim import ssim_map


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

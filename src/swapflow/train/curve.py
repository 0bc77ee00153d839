"""The learning curve: how a model reconstructs faces it never saw and how its
swap looks, measured while it trains (``curve.tsv``), and the rule that ends
``iterations: auto``.

Each point holds the held-out reconstruction of ``swapflow.evaluate`` (the
same figures evaluate reports, on at most ``curve.holdout_faces`` faces a
side) and, on a fixed sample of B's held-out faces swapped to A, the identity
distance to A's reference and the sharpness against the source. A point is a
pure function of the weights: it draws nothing at random.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from swapflow.geometry import blur_score
from swapflow.faceset import load_faceset
from swapflow.frames import spread
from swapflow.reconstruction import reconstruction
from swapflow.train.models import FaceSwapModel

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402  (backend chosen first)

log = logging.getLogger(__name__)
REFERENCE_FACES = 16  # faces of A whose mean embedding is A's reference
SCORE = ("recon_a_psnr_masked", "recon_b_psnr_masked")  # what the stop rule watches (their mean)

Holdout = list[tuple[Path, np.ndarray]]


class CurveMeter:
    """Measures a model on fixed held-out faces (``holdout``: side -> (faceset,
    held-out indices)); ``facesets``: side -> faceset folders."""

    def __init__(self, cfg: DictConfig, facesets: dict[str, list[Path]], holdout: dict[str, Holdout]) -> None:
        self.cfg = cfg
        self.facesets = facesets
        self.holdout = holdout
        picks = [(d, int(i)) for d, idx in holdout["b"] for i in idx]
        picks = [picks[j] for j in spread(len(picks), int(cfg.swap_faces))]
        sets = {d: load_faceset(d) for d, _ in picks}
        self.faces = np.stack([np.asarray(sets[d].faces[i]) for d, i in picks]) if picks else None
        self.landmarks = [np.asarray(sets[d].landmarks[i], np.float64) for d, i in picks]
        self.embedder, self.reference = self._identity(facesets["a"]) if picks else (None, None)

    @staticmethod
    def _identity(facesets_a: list[Path]) -> tuple[object | None, np.ndarray | None]:
        """dlib's embedder and A's reference; (None, None) where dlib is not
        installed (a GPU image without it): the curve then has no distance."""
        try:
            from swapflow.identity import Embedder, faceset_embedding
        except ImportError as err:
            log.warning("no identity distance in the learning curve: %s", err)
            return None, None
        embedder = Embedder()
        return embedder, faceset_embedding(facesets_a, REFERENCE_FACES, embedder)

    def measure(self, model: FaceSwapModel) -> dict[str, float]:
        """Held-out reconstruction of both sides, then the swap of B's sample to A."""
        row: dict[str, float] = {}
        for side in ("a", "b"):
            row |= reconstruction(model, self.facesets[side], self.holdout[side], side,
                                  int(self.cfg.holdout_faces))
        return row | self._swap(model)

    def _swap(self, model: FaceSwapModel) -> dict[str, float]:
        """``swap_distance_a``: mean distance of the swapped faces' embeddings to A's
        reference (each swapped face pasted back into its crop, embedded at the
        crop's landmarks); ``swap_sharpness``: median variance of the Laplacian of
        the swapped face over that of the source face, both at the model's size."""
        if self.faces is None:
            return {"swap_faces": 0, "swap_distance_a": float("nan"), "swap_sharpness": float("nan")}
        out, _ = model.swap(self.faces, to="a")
        source = model.coverage_crop(self.faces)
        x0, y0, side = model.coverage_box(self.faces.shape[1])
        distances, sharpness = [], []
        for face, swapped, original, points in zip(self.faces, out, source, self.landmarks):
            if self.embedder is not None:
                pasted = face.copy()
                pasted[y0:y0 + side, x0:x0 + side] = cv2.resize(swapped, (side, side),
                                                                interpolation=cv2.INTER_CUBIC)
                distances.append(float(np.linalg.norm(self.embedder.embed(pasted, points) - self.reference)))
            sharpness.append(blur_score(swapped) / max(blur_score(original), 1e-6))
        return {"swap_faces": len(out), "swap_distance_a": float(np.mean(distances)) if distances else float("nan"),
                "swap_sharpness": float(np.median(sharpness))}


def score(row: dict[str, float]) -> float:
    """What the stop rule watches: the mean held-out masked PSNR of A and B (dB)."""
    return float(np.mean([row[key] for key in SCORE]))


def stop_reason(curve: list[dict[str, float]], window: int, min_delta: float) -> str | None:
    """Why training stops after the last point of ``curve``, or None: when the best
    score of all points rose less than ``min_delta`` dB over the last ``window``
    points. A pure function of the curve, so a resumed run stops where an
    uninterrupted one does."""
    scores = [score(row) for row in curve]
    if len(scores) <= window:
        return None
    rise = max(scores) - max(scores[:-window])
    if rise >= min_delta:
        return None
    return (f"plateau: the best held-out masked PSNR rose {rise:.3f} dB over the last {window} "
            f"curve points (stop.min_delta {min_delta:g})")


def plot_curve(curve: pd.DataFrame, path: str | Path, stopped: int | None = None) -> None:
    """Three panels against the iteration: held-out masked PSNR (A, B), the swap's
    identity distance to A, its sharpness; ``stopped`` marks where auto stopped."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=100)
    panels = [("held-out masked PSNR (dB)", ["recon_a_psnr_masked", "recon_b_psnr_masked"]),
              ("swap B->A: distance to A (lower: more A)", ["swap_distance_a"]),
              ("swap B->A: sharpness / source", ["swap_sharpness"])]
    for ax, (title, columns) in zip(axes, panels):
        for column in columns:
            ax.plot(curve["iteration"], curve[column], marker=".", label=column)
        if stopped is not None:
            ax.axvline(stopped, color="grey", linestyle="--", label="stopped")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_losses(losses: pd.DataFrame, path: Path) -> None:
    """The two sides' losses (a running mean over 1/50 of the run) against the iteration."""
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    window = max(1, len(losses) // 50)
    for col in ("loss_a", "loss_b"):
        ax.plot(losses["iteration"], losses[col].rolling(window, min_periods=1).mean(), label=col)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"loss (running mean of {window})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

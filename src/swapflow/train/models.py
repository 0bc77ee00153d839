"""Shared-encoder face-swap autoencoders behind one interface, chosen by name.

Every model has one encoder and two decoders (A and B). ``forward(x, side)``
takes faces (N, 3, size, size) in [0, 1] and returns the decoded face and,
for models that learn one, a mask (N, 1, size, size) in [0, 1], else None.
Register a new architecture with ``@register("name")``; presets pick it with
``model.arch``.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from swapflow.frames import spread

ARCHITECTURES: dict[str, Callable[[DictConfig], "FaceSwapModel"]] = {}


def register(name: str) -> Callable[[type], type]:
    def wrap(cls: type) -> type:
        ARCHITECTURES[name] = cls
        return cls
    return wrap


def build_model(model_cfg: DictConfig) -> "FaceSwapModel":
    """Build the architecture named by ``model_cfg.arch``."""
    if model_cfg.arch not in ARCHITECTURES:
        raise ValueError(f"unknown model.arch {model_cfg.arch!r}; "
                         f"known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[model_cfg.arch](model_cfg)


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """5x5 stride-2 convolution: halves the side."""
    return nn.Sequential(nn.Conv2d(cin, cout, 5, stride=2, padding=2), _act())


def upscale(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution to 4*cout channels then pixel shuffle: doubles the side."""
    return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), _act(), nn.PixelShuffle(2))


class ResBlock(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), _act(),
                                  nn.Conv2d(ch, ch, 3, padding=1))
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class Encoder(nn.Module):
    """Strided convs, a dense bottleneck of ``dense`` units and a dense expansion
    (``dense: 0``: a 1x1 conv instead, a spatial bottleneck), then one upscale."""

    def __init__(self, size: int, convs: list[int], dense: int, bottleneck_ch: int) -> None:
        super().__init__()
        layers, cin = [], 3
        for ch in convs:
            layers.append(conv_block(cin, ch))
            cin = ch
        self.convs = nn.Sequential(*layers)
        self.side = size // 2 ** len(convs)
        self.bottleneck_ch = bottleneck_ch
        self.dense = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * self.side ** 2, dense),
            nn.Linear(dense, self.side ** 2 * bottleneck_ch)) if dense else nn.Conv2d(cin, bottleneck_ch, 1)
        self.up = upscale(bottleneck_ch, bottleneck_ch // 2)
        self.out_ch = bottleneck_ch // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dense(self.convs(x))
        return self.up(x.reshape(-1, self.bottleneck_ch, self.side, self.side))


class Decoder(nn.Module):
    """Pixel-shuffle upscalers (optionally each followed by a residual block)
    then a 5x5 conv to ``out_ch`` sigmoid channels."""

    def __init__(self, cin: int, widths: list[int], out_ch: int, res_blocks: bool) -> None:
        super().__init__()
        layers = []
        for ch in widths:
            layers.append(upscale(cin, ch))
            if res_blocks:
                layers.append(ResBlock(ch))
            cin = ch
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(cin, out_ch, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.body(x)))


class FaceSwapModel(nn.Module):
    """One shared encoder, decoder A and decoder B.

    ``size`` is the model's input/output side; ``coverage`` is the fraction
    of the faceset crop side (centred) that the model sees; ``mask``: the
    decoders draw a fourth channel, the face's mask (``predicts_mask``, the
    architecture's default for configs from before the key).
    """

    predicts_mask: bool = False
    # decoder B's usual reconstruction error (median, spread per pixel) on B's held-out
    # faces, for convert's reconstruction occlusion: set when a trained model is loaded
    usual_error: tuple[np.ndarray, np.ndarray] | None = None

    def __init__(self, cfg: DictConfig) -> None:
        super().__init__()
        self.predicts_mask = bool(cfg.get("mask", self.predicts_mask))
        self.size = int(cfg.size)
        self.coverage = float(cfg.coverage)
        out_ch = 4 if self.predicts_mask else 3
        self.encoder = Encoder(self.size, list(cfg.encoder), int(cfg.dense), int(cfg.bottleneck))
        self.decoders = nn.ModuleDict({
            side: Decoder(self.encoder.out_ch, list(cfg.decoder), out_ch, bool(cfg.res_blocks))
            for side in ("a", "b")})

    def forward(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.decode(self.encoder(x), side)

    def decode(self, z: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decoder ``side`` of encodings ``z``: (face, mask or None)."""
        out = self.decoders[side](z)
        if self.predicts_mask:
            return out[:, :3], out[:, 3:]
        return out, None

    def both(self, a: torch.Tensor, b: torch.Tensor) -> tuple[tuple, tuple]:
        """A's faces through decoder A and B's through decoder B, one encoder call for both."""
        z = self.encoder(torch.cat([a, b]))
        return self.decode(z[:len(a)], "a"), self.decode(z[len(a):], "b")

    def coverage_box(self, crop_side: int) -> tuple[int, int, int]:
        """(x0, y0, side) of the square of a ``crop_side`` faceset crop the model sees.

        Output pixel (u, v) of ``swap`` covers crop pixel
        (x0 + (u + 0.5) * side / size - 0.5, y0 + (v + 0.5) * side / size - 0.5).
        """
        side = int(round(crop_side * self.coverage))
        x0 = (crop_side - side) // 2
        return x0, x0, side

    def coverage_crop(self, images: np.ndarray) -> np.ndarray:
        """The ``coverage_box`` square of each faceset-style crop (faces or
        masks), resized to the model's size: what the model sees of them."""
        x0, y0, side = self.coverage_box(images.shape[1])
        return np.stack([cv2.resize(np.ascontiguousarray(image[y0:y0 + side, x0:x0 + side]),
                                    (self.size, self.size), interpolation=cv2.INTER_AREA)
                         for image in images]) if len(images) else images[:, :0, :0]

    @torch.no_grad()
    def swap(self, faces: np.ndarray, to: str = "a", batch_size: int = 32
             ) -> tuple[np.ndarray, np.ndarray | None]:
        """Run aligned faces through decoder ``to``.

        faces: uint8 RGB (N, S, S, 3) faceset-style crops (S = 256 usually).
        Returns faces uint8 RGB (N, size, size, 3) and, when the model learns a
        mask, float32 (N, size, size) in [0, 1], else None. The output covers
        ``coverage_box(S)`` of the input crop, resized to ``size``.
        """
        if to not in ("a", "b"):
            raise ValueError(f"to must be 'a' or 'b', not {to!r}")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        out_faces, out_masks = [], []
        for start in range(0, len(faces), batch_size):
            crops = self.coverage_crop(faces[start:start + batch_size])
            x = torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float() / 255
            face, mask = self(x, to)
            out_faces.append((face.float().clamp(0, 1) * 255 + 0.5).byte()
                             .permute(0, 2, 3, 1).cpu().numpy())
            if mask is not None:
                out_masks.append(mask.float()[:, 0].cpu().numpy())
        self.train(was_training)
        face_arr = np.concatenate(out_faces) if out_faces else np.zeros((0, self.size, self.size, 3), np.uint8)
        if not self.predicts_mask:
            return face_arr, None
        mask_arr = np.concatenate(out_masks) if out_masks else np.zeros((0, self.size, self.size), np.float32)
        return face_arr, mask_arr


@register("original")
class OriginalModel(FaceSwapModel):
    """The classic shared-encoder model: strided 5x5 convs, dense bottleneck,
    pixel-shuffle decoders per identity. Widths come from the preset."""


@register("dfaker")
class DfakerModel(FaceSwapModel):
    """dfaker/DFL-SAE style: residual decoder blocks and, by default, a fourth
    output channel, a mask the model learns."""

    predicts_mask = True


def preview_grid(model: FaceSwapModel, faces: dict[str, np.ndarray], count: int = 6) -> np.ndarray:
    """Rows A, A reconstructed, A->B, B, B reconstructed, B->A of ``count`` faces
    spread over each side's ``faces`` (RGB uint8)."""
    rows = []
    count = min(count, *map(len, faces.values()))
    for side, other in (("a", "b"), ("b", "a")):
        picked = np.asarray(faces[side][spread(len(faces[side]), count)])
        rows += [np.concatenate(list(model.coverage_crop(picked)), 1),
                 np.concatenate(list(model.swap(picked, to=side)[0]), 1),
                 np.concatenate(list(model.swap(picked, to=other)[0]), 1)]
    return np.concatenate(rows, 0)

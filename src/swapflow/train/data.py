"""Training batches from facesets, made with tensor operations on the training device.

Facesets are the folders of ``swapflow.faceset`` (aligned 256 px crops,
masks and landmarks in crop pixels). ``FaceBank`` loads a side's training
faces once as one uint8 tensor of six channels: RGB, the face mask, the mask
dilated for the loss and the eye/mouth regions, each downscaled with
anti-aliasing (INTER_AREA) to about twice the model's side. ``Sampler``
makes a batch with two ``grid_sample`` calls:

- the target: per face one sampling grid composed of the random rotation,
  zoom, shift and flip and the coverage crop, with the pixel-centre
  convention of ``FaceSwapModel.coverage_crop`` (the crop convert and
  evaluate use), so with augmentation off the target *is* that crop;
- the input: the same grid plus a zero-mean smooth random displacement (the
  classic face-swap warp, control points on a ``warp_grid`` lattice,
  bicubic in between), so with ``warp_strength: 0`` input == target;
- with ``occlusion`` > 0, that share of the inputs get an occluder pasted on
  (an ellipse or a box, flat-coloured or cut from another training face): it
  moves with the input's warp, the target stays the clean face, and the
  mask's target is the face mask less the occluder, so a model that learns a
  mask learns to leave out what covers the face, and its decoders not to
  draw it.

Mask and loss weights are sampled with the target's grid; colour jitter
shifts input and target alike. The random numbers are a counter-based hash
of (seed, iteration, side, position, draw), so each sample is a pure
function of those: a resumed run continues the same sequence, and the
processes of a data-parallel run, each building its own positions, train on
the batch one process would. Nothing in a step reads back from the device.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from swapflow.anatomy import LEFT_BROW, LEFT_EYE, MOUTH, RIGHT_BROW, RIGHT_EYE
from swapflow.faceset import Faceset, faceset_hash, load_faceset
from swapflow.io import InputError, project_path

# The regions weighted up in the loss: each eye with its brow, and the mouth.
REGIONS = (np.concatenate([LEFT_BROW, LEFT_EYE]), np.concatenate([RIGHT_BROW, RIGHT_EYE]), MOUTH)
SIDES = {"a": 0, "b": 1}
CHANNELS = ("r", "g", "b", "mask", "dilated", "regions")
# Draws per sample, in this order: face, angle, zoom, shift x, shift y, flip, colour (3), then
# the warp's 2 x grid x grid normals (Box-Muller: one uniform a normal, paired).
FIXED_DRAWS = 9
# Draws of a pasted occluder (data.occlusion), after the warp's: whether, flat or cut from a face,
# which face, centre (2), half-axes (2), angle, box or ellipse, colour (3), where in that face (2).
OCCLUDER_DRAWS = 14
# Colour jitter axes in RGB: lightness, red-green, blue-yellow (an opponent basis, as LAB's L, a, b).
COLOUR_AXES = torch.tensor([[1.0, 1.0, 1.0], [0.5, -0.5, 0.0], [0.25, 0.25, -0.5]])


class FacesetError(InputError):
    """A faceset that cannot be trained on (missing files, too few faces)."""


def load_facesets(identity: str, side: str, paths: list[Path], cfg: DictConfig) -> tuple[list[Faceset], list[dict]]:
    """The facesets of one side, each with its record for the manifest (path,
    faces, content hash, training and held-out face indices); FacesetError for
    a side without a faceset, a folder that is not one, or too few faces."""
    if not paths:
        raise FacesetError(f"identity {identity!r} (side {side}) has no faceset")
    loaded, entries = [], []
    for path in paths:
        try:
            fs = load_faceset(path)
        except FileNotFoundError as err:
            raise FacesetError(f"identity {identity!r} (side {side}): {path} is not a faceset "
                               f"({err.filename} is missing)") from err
        if len(fs) < cfg.min_faces:
            removed = 0 if fs.curation is None else int((fs.curation["removed"] != "").sum())
            raise FacesetError(f"identity {identity!r} (side {side}): faceset {path} has "
                               f"{len(fs)} faces, fewer than min_faces={cfg.min_faces}"
                               + (f" (curation removed {removed}: see config section curate)" if removed else ""))
        train_idx, hold_idx = split_holdout(len(fs), float(cfg.holdout), int(cfg.seed), path.name,
                                            int(cfg.holdout_min))
        loaded.append(fs)
        entries.append({"path": project_path(path), "faces": len(fs), "hash": faceset_hash(path),
                        "train_indices": train_idx.tolist(), "holdout_indices": hold_idx.tolist()})
    return loaded, entries


def split_holdout(count: int, fraction: float, seed: int, key: str, minimum: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) face indices: ``fraction`` of the faces but at least
    ``minimum`` (and never more than a quarter) held out; the draw depends
    only on seed, key and count."""
    salt = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")
    order = np.random.default_rng([seed, salt]).permutation(count)
    n_hold = max(int(round(count * fraction)), min(minimum, count // 4))
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


def bank_side(size: int, coverage: float) -> int:
    """Side of the prefiltered faces: the coverage square becomes about twice the model's side."""
    return int(math.ceil(2 * size / coverage))


def prefilter(face: np.ndarray, mask: np.ndarray, marks: np.ndarray, side: int, dilate_px: float
              ) -> np.ndarray:
    """One faceset face as the bank stores it: (6, side, side) uint8, the
    whole crop resized edge to edge (INTER_AREA), so a normalised coordinate
    means the same point in the crop and in the bank."""
    crop = face.shape[0]
    scale = side / crop
    rgb = cv2.resize(np.ascontiguousarray(face), (side, side), interpolation=cv2.INTER_AREA)
    small = cv2.resize(np.ascontiguousarray(mask), (side, side), interpolation=cv2.INTER_AREA)
    k = 2 * max(1, int(round(dilate_px))) + 1
    dilated = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    regions = np.zeros((side, side), np.uint8)
    points = (np.asarray(marks, np.float64) + 0.5) * scale - 0.5
    for idx in REGIONS:
        hull = cv2.convexHull(np.round(points[idx] * 16).astype(np.int32))
        cv2.fillConvexPoly(regions, hull, 255, cv2.LINE_AA, shift=4)
    return np.concatenate([rgb.transpose(2, 0, 1), small[None], dilated[None], regions[None]])


class FaceBank:
    """The training faces of one identity, possibly from several facesets, as
    one uint8 tensor (N, 6, side, side) on ``device`` when it fits
    ``budget_bytes``, else in pinned host memory (gathered there, then copied)."""

    def __init__(self, facesets: list[Faceset], train_indices: list[np.ndarray], size: int,
                 coverage: float, mask_dilate: float, device: torch.device, budget_bytes: float) -> None:
        self.side = bank_side(size, coverage)
        crop = facesets[0].faces.shape[1]
        # mask_dilate is a fraction of the model's side; one model pixel is this many bank pixels
        dilate_px = mask_dilate * size * (crop * coverage / size) * (self.side / crop)
        count = sum(len(i) for i in train_indices)
        store = torch.empty((count, len(CHANNELS), self.side, self.side), dtype=torch.uint8)
        row = 0
        for fs, idx in zip(facesets, train_indices):
            for i in idx:
                store[row] = torch.from_numpy(prefilter(fs.faces[i], fs.masks[i], fs.landmarks[i],
                                                        self.side, dilate_px))
                row += 1
        self.device = device
        self.on_device = device.type == "cpu" or store.numel() <= budget_bytes
        if self.on_device:
            self.faces = store.to(device)
        else:
            self.faces = store.pin_memory()

    def __len__(self) -> int:
        return len(self.faces)

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Faces ``index`` (a CPU int64 tensor) as float (n, 6, side, side) in [0, 1] on the device."""
        if self.on_device:
            picked = self.faces.index_select(0, index.to(self.device, non_blocking=True))
        else:
            picked = self.faces.index_select(0, index).pin_memory().to(self.device, non_blocking=True)
        return picked.float().div_(255)


def uniforms(seed: int, iteration: int, side: int, positions: range, draws: int) -> np.ndarray:
    """(len(positions), draws) floats in [0, 1): a splitmix64 hash of
    (seed, iteration, side, position, draw), the same on every machine."""
    keys = [np.uint64(seed), np.uint64(iteration), np.uint64(side)]
    pos = np.arange(positions.start, positions.stop, dtype=np.uint64)[:, None]
    draw = np.arange(draws, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        h = np.zeros((len(positions), draws), np.uint64)
        for key in (*keys, pos, draw):
            h = _splitmix(h ^ (key + np.uint64(0x9E3779B97F4A7C15)))
    return (h >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@dataclass
class Batch:
    """float32 NCHW in [0, 1] on the training device: warped input, clean
    target, face mask; and the loss weight."""
    warped: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    weight: torch.Tensor


def _affine(points: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(n, h, w, 2) points ``points`` (n or 1 leading) mapped by the (n, 2, 3)
    affine ``m``, element by element: a matrix product would round differently
    with the batch size, and a sample must not depend on its batch."""
    m = m[:, None, None]
    return points[..., :1] * m[..., 0] + points[..., 1:] * m[..., 1] + m[..., 2]


class Sampler:
    """Makes batches of one side's ``FaceBank`` (see the module docstring)."""

    def __init__(self, cfg: DictConfig, bank: FaceBank, size: int, coverage: float, crop: int,
                 channels_last: bool = False) -> None:
        self.cfg, self.bank, self.size = cfg, bank, size
        self.grid = int(cfg.warp_grid)
        self.occluder = FIXED_DRAWS + 2 * self.grid ** 2   # the occluder's first draw
        self.draws = self.occluder + OCCLUDER_DRAWS
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        device = bank.device
        # The coverage square in normalised crop coordinates (edges at -1 and 1), as coverage_box cuts it.
        side = int(round(crop * coverage))
        x0 = (crop - side) // 2
        self.box_scale = side / crop
        self.box_offset = (2 * x0 + side) / crop - 1
        # Output pixel centres in normalised coordinates (align_corners=False), (size, size, 2).
        c = (torch.arange(size, dtype=torch.float32, device=device) * 2 + 1) / size - 1
        yy, xx = torch.meshgrid(c, c, indexing="ij")
        self.base = torch.stack([xx, yy], -1)
        self.colour = COLOUR_AXES.to(device)

    def matrices(self, u: torch.Tensor) -> torch.Tensor:
        """(n, 2, 3): output pixel centre (normalised, homogeneous) -> crop
        point (normalised): flip, zoom, rotation and shift about the centre,
        then the coverage square."""
        c = self.cfg
        angle = torch.deg2rad((u[:, 1] * 2 - 1) * c.rotation)
        scale = 1 / (1 + (u[:, 2] * 2 - 1) * c.zoom)
        shift = (u[:, 3:5] * 2 - 1) * c.shift * 2   # shift is a fraction of the side: 2 normalised units
        flip = torch.where((u[:, 5] < 0.5) & bool(c.flip), -1.0, 1.0)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        m = torch.stack([torch.stack([cos * flip, -sin, -shift[:, 0]], -1),
                         torch.stack([sin * flip, cos, -shift[:, 1]], -1)], 1)
        return m * self.box_scale + torch.tensor([0.0, 0.0, self.box_offset], device=u.device)[None, None]

    def displacement(self, u: torch.Tensor) -> torch.Tensor:
        """(n, size, size, 2) smooth zero-mean displacement of the output pixel
        centres, normalised units, std ``warp_strength`` of the side at the control points."""
        n, g = len(u), self.grid
        pairs = u[:, FIXED_DRAWS:self.occluder].reshape(n, 2, g * g)
        radius = torch.sqrt(-2 * torch.log1p(-pairs[:, 0]))   # 1 - u is in (0, 1]
        turn = 2 * math.pi * pairs[:, 1]
        normals = torch.stack([radius * torch.cos(turn), radius * torch.sin(turn)], 1)
        lattice = normals.reshape(n, 2, g, g) * (self.cfg.warp_strength * 2)
        dense = F.interpolate(lattice, size=(self.size, self.size), mode="bicubic", align_corners=True)
        return dense.permute(0, 2, 3, 1)

    def cover(self, o: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """(n, 1, size, size) share of each output pixel an occluder of draws ``o``
        (its ``OCCLUDER_DRAWS``) covers, sampled at ``points`` (normalised output
        coordinates, (n or 1, size, size, 2)): an ellipse or a box, half-axes 7.5-30 %
        of the side, centred in the middle half, a one-pixel soft edge; 0 for the
        samples that get none."""
        centre = (o[:, 3:5] * 2 - 1) * 0.5
        half = 0.15 + o[:, 5:7] * 0.45
        cos, sin = torch.cos(o[:, 7] * math.pi), torch.sin(o[:, 7] * math.pi)
        rel = points - centre[:, None, None]
        x = (rel[..., 0] * cos[:, None, None] + rel[..., 1] * sin[:, None, None]) / half[:, None, None, 0]
        y = (rel[..., 1] * cos[:, None, None] - rel[..., 0] * sin[:, None, None]) / half[:, None, None, 1]
        box = (o[:, 8] < 0.5)[:, None, None]
        distance = torch.where(box, torch.maximum(x.abs(), y.abs()), torch.sqrt(x * x + y * y))
        pixels = half.min(1).values[:, None, None] * self.size / 2   # the short half-axis in pixels
        inside = ((1 - distance) * pixels + 0.5).clamp(0, 1)
        return (inside * (o[:, 0] < self.cfg.occlusion)[:, None, None]).unsqueeze(1)

    def sample(self, u: torch.Tensor, index: torch.Tensor, donor: torch.Tensor | None = None) -> Batch:
        """The batch of draws ``u`` on faces ``index`` of the bank; occluders are
        cut from faces ``donor`` (default: ``index``)."""
        faces = self.bank.gather(index)
        m = self.matrices(u)
        grid = _affine(self.base[None], m)
        moved = self.base[None] + self.displacement(u)
        warped_grid = _affine(moved, m)
        kw = {"mode": "bilinear", "padding_mode": "reflection", "align_corners": False}
        clean = F.grid_sample(faces, grid, **kw)
        warped = F.grid_sample(faces[:, :3], warped_grid, **kw)
        mask = clean[:, 3:4]
        c = self.cfg
        if c.occlusion > 0:
            o = u[:, self.occluder:]
            cut = m + torch.cat([torch.zeros_like(m[:, :, :2]), (o[:, 12:14, None] * 2 - 1) * 0.6], 2)
            other = faces[:, :3] if donor is None else self.bank.gather(donor)[:, :3]
            paint = torch.where((o[:, 1] < 1 / 3)[:, None, None, None], o[:, 9:12, None, None],
                                F.grid_sample(other, _affine(moved, cut), **kw))
            on_input = self.cover(o, moved)
            warped = warped * (1 - on_input) + paint * on_input
            mask = mask * (1 - self.cover(o, self.base[None]))
        amount = (u[:, 6:9] * 2 - 1) * torch.tensor([c.jitter_l, c.jitter_ab, c.jitter_ab], device=u.device)
        shift = (amount[:, :, None] * self.colour).sum(1)[:, :, None, None]  # (element-wise, as _affine)
        weight = torch.where(clean[:, 4:5] > 0.5, 1.0, float(c.background_weight))
        weight = torch.where(clean[:, 5:6] > 0.5, float(c.region_weight), weight)
        return Batch(warped=(warped + shift).clamp_(0, 1).contiguous(memory_format=self.format),
                     target=(clean[:, :3] + shift).clamp_(0, 1).contiguous(memory_format=self.format),
                     mask=mask.contiguous(memory_format=self.format),
                     weight=weight.contiguous(memory_format=self.format))

    def batch(self, seed: int, iteration: int, side: int, positions: range) -> Batch:
        """Positions ``positions`` of the batch of ``iteration`` for one side."""
        u = uniforms(seed, iteration, side, positions, self.draws)
        picks = (u[:, [0, self.occluder + 2]] * len(self.bank)).astype(np.int64)
        index, donor = torch.from_numpy(picks[:, 0].copy()), torch.from_numpy(picks[:, 1].copy())
        draws = torch.from_numpy(u.astype(np.float32))
        if self.bank.device.type == "cuda":
            draws = draws.pin_memory()
        return self.sample(draws.to(self.bank.device, non_blocking=True), index, donor)

"""Training batches from facesets: augmentation, warping, weights, prefetch.

Facesets are the folders of ``swapflow.faceset`` (aligned 256 px crops,
masks and landmarks in crop pixels).

Each batch is a pure function of (seed, iteration, side): the producer
threads may run in any order and the train loop still sees the same data, so
a run is reproducible and a resumed run continues the same sequence.
"""

from __future__ import annotations

import hashlib
import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from omegaconf import DictConfig

from swapflow.anatomy import LEFT_BROW, LEFT_EYE, MOUTH, RIGHT_BROW, RIGHT_EYE
from swapflow.faceset import Faceset
from swapflow.io import InputError

# The regions weighted up in the loss: each eye with its brow, and the mouth.
REGIONS = {"left_eye": np.concatenate([LEFT_BROW, LEFT_EYE]),
           "right_eye": np.concatenate([RIGHT_BROW, RIGHT_EYE]),
           "mouth": MOUTH}
SIDES = {"a": 0, "b": 1}


class FacesetError(InputError):
    """A faceset that cannot be trained on (missing files, too few faces)."""


def split_holdout(count: int, fraction: float, seed: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) face indices; the draw depends only on seed, key and count."""
    salt = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little")
    order = np.random.default_rng([seed, salt]).permutation(count)
    n_hold = int(round(count * fraction))
    return np.sort(order[n_hold:]), np.sort(order[:n_hold])


class Side:
    """The training faces of one identity, possibly from several facesets."""

    def __init__(self, facesets: list[Faceset], train_indices: list[np.ndarray]) -> None:
        self.facesets = facesets
        self.items = np.concatenate([np.stack([np.full(len(idx), k), idx], 1)
                                     for k, idx in enumerate(train_indices)])

    def __len__(self) -> int:
        return len(self.items)

    def get(self, item: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, i = self.items[item]
        fs = self.facesets[k]
        return fs.faces[i], fs.masks[i], fs.landmarks[i]


class Augmenter:
    """Turns faceset crops into (warped input, clean target, mask, loss weight)."""

    def __init__(self, cfg: DictConfig, size: int, coverage: float) -> None:
        self.cfg = cfg
        self.size = size
        self.coverage = coverage
        grid = int(cfg.warp_grid)
        # Control-point lattice, interpolated to a dense map for cv2.remap.
        self.lattice = np.linspace(0, size - 1, grid, dtype=np.float32)

    def _affine(self, rng: np.random.Generator, crop_side: int) -> np.ndarray:
        """Matrix from the faceset crop to the model's input: random rotation,
        zoom and shift about the centre, coverage crop and resize."""
        c = self.cfg
        angle = rng.uniform(-c.rotation, c.rotation)
        scale = self.size / (crop_side * self.coverage) * (1 + rng.uniform(-c.zoom, c.zoom))
        shift = rng.uniform(-c.shift, c.shift, 2) * self.size
        m = cv2.getRotationMatrix2D((crop_side / 2, crop_side / 2), angle, scale)
        m[:, 2] += self.size / 2 - crop_side / 2 + shift
        return m

    def _warp(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Random smooth grid warp (the classic face-swap input distortion)."""
        n = len(self.lattice)
        gx, gy = np.meshgrid(self.lattice, self.lattice)
        sigma = self.cfg.warp_strength * self.size
        gx = gx + rng.normal(0, sigma, (n, n)).astype(np.float32)
        gy = gy + rng.normal(0, sigma, (n, n)).astype(np.float32)
        map_x = cv2.resize(gx, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
        map_y = cv2.resize(gy, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _color(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Shift lightness and the a/b colour axes in LAB."""
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
        lab[..., 0] += rng.uniform(-1, 1) * self.cfg.jitter_l * 255
        lab[..., 1:] += rng.uniform(-1, 1, 2) * self.cfg.jitter_ab * 255
        return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)

    def _weight(self, mask: np.ndarray, marks: np.ndarray) -> np.ndarray:
        """Loss weight: background weight, 1 on the dilated mask, ``region_weight``
        on eye and mouth hulls."""
        c = self.cfg
        k = max(1, int(round(c.mask_dilate * self.size))) * 2 + 1
        dilated = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        weight = np.where(dilated > 127, 1.0, c.background_weight).astype(np.float32)
        regions = np.zeros_like(mask)
        for idx in REGIONS.values():
            cv2.fillConvexPoly(regions, cv2.convexHull(marks[idx].astype(np.int32)), 1)
        weight[regions > 0] = c.region_weight
        return weight

    def sample(self, face: np.ndarray, mask: np.ndarray, marks: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        m = self._affine(rng, face.shape[0])
        if self.cfg.flip and rng.random() < 0.5:
            # Eye and mouth regions are symmetric sets, so landmarks need no relabelling.
            m = np.array([[-1, 0, self.size - 1], [0, 1, 0]], np.float64) @ np.vstack([m, [0, 0, 1]])
        dsize = (self.size, self.size)
        target = cv2.warpAffine(np.asarray(face), m, dsize, flags=cv2.INTER_AREA,
                                borderMode=cv2.BORDER_REFLECT)
        out_mask = cv2.warpAffine(np.asarray(mask), m, dsize, flags=cv2.INTER_LINEAR)
        out_marks = cv2.transform(np.asarray(marks, np.float32)[None], m)[0]
        target = self._color(target, rng)
        warped = self._warp(target, rng)
        return warped, target, out_mask, self._weight(out_mask, out_marks)


@dataclass
class Batch:
    """float32 NCHW in [0, 1]: warped input, clean target, mask; loss weight."""
    warped: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    weight: np.ndarray


def make_batch(side: Side, aug: Augmenter, samples: range, seed: int, iteration: int,
               side_key: int) -> Batch:
    """Positions ``samples`` of the batch of ``iteration`` for one side. Each
    sample is a pure function of (seed, iteration, side, position), so the
    processes of a data-parallel run, each building its own positions,
    together train on the batch one process would."""
    picked = []
    for position in samples:
        rng = np.random.default_rng([seed, iteration, side_key, position])
        picked.append(aug.sample(*side.get(rng.integers(0, len(side))), rng))
    warped, target, mask, weight = (np.stack(x) for x in zip(*picked))
    return Batch(warped=warped.transpose(0, 3, 1, 2).astype(np.float32) / 255,
                 target=target.transpose(0, 3, 1, 2).astype(np.float32) / 255,
                 mask=mask[:, None].astype(np.float32) / 255,
                 weight=weight[:, None])


class Prefetcher:
    """Builds the batches (positions ``samples`` of each) for iterations
    ``start`` .. in background threads.

    ``get()`` returns the batches of the next iteration in order and counts
    the time it had to wait (the stall).
    """

    def __init__(self, sides: dict[str, Side], aug: Augmenter, samples: range, seed: int,
                 start: int, workers: int, depth: int) -> None:
        self.sides, self.aug, self.samples, self.seed = sides, aug, samples, seed
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="batches")
        self.pending: queue.SimpleQueue[Future] = queue.SimpleQueue()
        self.submitted = start
        self.wait_s = 0.0
        for _ in range(max(1, depth)):
            self._submit()

    def _submit(self) -> None:
        self.pending.put(self.pool.submit(self._build, self.submitted))
        self.submitted += 1

    def _build(self, iteration: int) -> dict[str, Batch]:
        return {name: make_batch(side, self.aug, self.samples, self.seed, iteration, SIDES[name])
                for name, side in self.sides.items()}

    def get(self) -> dict[str, Batch]:
        t0 = time.perf_counter()
        batches = self.pending.get().result()
        self.wait_s += time.perf_counter() - t0
        self._submit()
        return batches

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

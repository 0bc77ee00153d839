"""Face masks in aligned-crop space: one protocol, implementations by name;
and the masks file (``results/mask/<video>.npz``), whose one owner this is.

A mask is a uint8 ``(size, size)`` array, 255 on the face and 0 elsewhere,
made from the face's landmarks in aligned-crop pixels (and, for ``mesh``,
the aligned crop itself).
"""

from __future__ import annotations

import os
from typing import Mapping, Protocol

import cv2
import numpy as np

from swapflow.anatomy import BROWS, CHIN, LEFT_BROW, LEFT_JAW, NOSE, NOSE_BASE, NOSE_TOP, RIGHT_BROW, RIGHT_JAW
from swapflow.io import atomic_path
from swapflow.plugins import Registry

# Parts whose convex hulls, joined, make the "components" mask. The jaw is
# split at the chin and each half closed by its brow, with the nose and the
# brow-to-chin centre strip filling the middle.
COMPONENTS = (
    np.concatenate([LEFT_JAW, LEFT_BROW]),
    np.concatenate([RIGHT_JAW, RIGHT_BROW]),
    np.append(BROWS, CHIN),
    NOSE,
)
# MediaPipe Face Mesh face-oval vertices in order around the face.
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]


class Mask(Protocol):
    needs_crop: bool  # whether __call__ looks at the aligned crop

    def __call__(self, landmarks: np.ndarray, size: int, crop_rgb: np.ndarray | None = None) -> np.ndarray:
        """uint8 (size, size) mask from aligned-crop landmarks (and the crop)."""
        ...


def _hulls(parts: list[np.ndarray], size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    for pts in parts:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(pts).astype(np.int32)), 255, cv2.LINE_AA)
    return np.where(mask > 127, 255, 0).astype(np.uint8)


class ComponentsMask:
    """Union of convex hulls of the jaw/brow halves, centre strip and nose."""

    needs_crop = False

    def __call__(self, landmarks: np.ndarray, size: int, crop_rgb: np.ndarray | None = None) -> np.ndarray:
        return _hulls([landmarks[p] for p in COMPONENTS], size)


class ExtendedMask:
    """``components`` with the brows raised over the forehead.

    Each brow point moves away from the chin by ``lift`` times the nose
    length (top to base), which reaches about half-way up the forehead.
    """

    needs_crop = False

    def __init__(self, lift: float = 0.6) -> None:
        self.lift = lift

    def __call__(self, landmarks: np.ndarray, size: int, crop_rgb: np.ndarray | None = None) -> np.ndarray:
        lm = landmarks.copy()
        up = lm[NOSE_TOP] - lm[CHIN]
        up /= np.linalg.norm(up) + 1e-9
        lm[BROWS] += up * self.lift * np.linalg.norm(lm[NOSE_TOP] - lm[NOSE_BASE])
        return _hulls([lm[p] for p in COMPONENTS], size)


class MeshMask:
    """Face Mesh's face-oval polygon, Face Mesh run on the aligned crop.

    Falls back to ``components`` when Face Mesh finds no face in the crop.
    """

    needs_crop = True

    def __init__(self) -> None:
        # mediapipe only where a mesh mask is made: convert and training run without it
        from swapflow.landmarks import MeshLandmarker

        self._mesh = MeshLandmarker()

    def __call__(self, landmarks: np.ndarray, size: int, crop_rgb: np.ndarray | None = None) -> np.ndarray:
        if crop_rgb is None:
            raise ValueError("the mesh mask needs the aligned crop")
        pts = self._mesh.mesh(crop_rgb)
        if pts is None:
            return ComponentsMask()(landmarks, size)
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(pts[FACE_OVAL]).astype(np.int32)], 255)
        return mask


MASKS: Registry[Mask] = Registry("mask", {"components": "swapflow.mask:ComponentsMask",
                                          "extended": "swapflow.mask:ExtendedMask", "mesh": "swapflow.mask:MeshMask"})


def make_mask(name: str) -> Mask:
    """The mask registered as ``name``."""
    return MASKS.make(name)


def write_masks(path: str | os.PathLike, masks: Mapping[str, np.ndarray]) -> None:
    """Store mask_frames' arrays as a compressed .npz, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **masks)


def read_masks(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}

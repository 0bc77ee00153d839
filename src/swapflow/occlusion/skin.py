"""Occlusion source ``skin``: what is not the colour of the face's own skin, nor as dark."""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from swapflow.anatomy import LEFT_BROW, LEFT_EYE, MOUTH, NOSE, RIGHT_BROW, RIGHT_EYE
from swapflow.occlusion import FACE_EDGE, Face, Scene, regions
from swapflow.reconstruction import MAD_TO_SIGMA
from swapflow.schema import setting, settings_section

SKIN_FLOOR = 0.004  # added to the skin's chromaticity spread: JPEG noise is never an occluder's sign
INNER_SHARE = 0.25  # the least share of ``min_area`` a skin occluder has on the skin
DARK = 0.3  # darker than this share of the skin's median brightness is not skin (a shadow keeps more)
CHIN_JAW, MOUTH_CORNERS = range(5, 12), (48, 54)  # the chin: no hair comes in along its edge


@settings_section
class SkinOptions:
    """Occlusion source ``skin``'s own settings (config section ``convert.skin``)."""

    section: ClassVar[str] = "convert.skin"
    threshold: float = setting(
        4.0, "how far from the skin's chromaticity (in robust standard deviations of the face's own skin, "
        "measured on each face) a pixel must be to mark an occluder; lower finds more and eats more of clean "
        "faces", exclusiveMinimum=0)


class Skin:
    """Measured on each face alone: no model is asked."""

    Options = SkinOptions

    def __init__(self, scene: Scene, options: SkinOptions | None = None) -> None:
        self.options = options or SkinOptions()
        self.min_area = scene.min_area

    def covered(self, face: Face) -> np.ndarray:
        return skin_occlusion(face.square, face.points, face.landmark, self.options.threshold, self.min_area)


def skin_occlusion(crop: np.ndarray, points: np.ndarray, face: np.ndarray, threshold: float,
                   min_area: float) -> np.ndarray:
    """Occlusion where the face's colour is not its own skin's, in patches of ``min_area``.

    ``crop`` (uint8 RGB, the size of ``face``, the landmark mask) and ``points`` (its
    68 landmarks) are one face; its skin is what the mask holds away from the eyes,
    brows, nostrils, lips and a band of ``FACE_EDGE`` along its edge (not along the
    chin, where no hair comes in). A pixel differs where its chromaticity lies more
    than ``threshold`` robust standard deviations from the skin's (so shading, which
    scales all channels, does not count) or it is darker than ``DARK`` of the skin's
    median brightness. A patch of such pixels inside the band counts with
    ``INNER_SHARE`` of ``min_area`` on the skin (an eye or the lips alone never
    does; an occluder over them takes them along), and takes along what differs
    within the band's width of it (not hair all along the face's edge).
    """
    side = face.shape[0]
    smooth = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), side / 128)
    total = smooth.sum(-1) + 1.0
    chroma = np.stack([smooth[..., 0] / total, smooth[..., 1] / total], -1)
    skin, inner = _skin_area(points, face)
    area = min_area * side * side
    if skin.sum() < area * INNER_SHARE:  # too little skin to measure (a face seen edge-on)
        return np.zeros_like(face, np.float32)
    centre = np.median(chroma[skin], 0)
    spread = MAD_TO_SIGMA * np.median(np.abs(chroma[skin] - centre), 0) + SKIN_FLOOR
    differs = (np.abs(chroma - centre) / spread).max(-1) > threshold
    differs |= total < DARK * np.median(total[skin])
    count, labels = cv2.connectedComponents((differs & inner).astype(np.uint8))
    big = np.bincount(labels[skin], minlength=count) >= area * INNER_SHARE
    big[0] = False
    reach = int(round(FACE_EDGE * side))
    near = cv2.dilate(big[labels].astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    return regions((near > 0) & differs, face, 0.0)


def _skin_area(points: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The skin of the landmark mask ``face``: less a band of ``FACE_EDGE`` along its edge
    above the chin (where hair and background come in), and less the eyes, brows,
    nostrils and lips; and the mask less that band alone."""
    side = face.shape[0]
    disc = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)  # noqa: E731
    inside = (face > 0.5).astype(np.uint8)
    inner = cv2.erode(inside, disc(int(round(FACE_EDGE * side))))
    chin = np.zeros_like(inside)
    cv2.fillConvexPoly(chin, cv2.convexHull(np.round(points[[*CHIN_JAW, *MOUTH_CORNERS]]).astype(np.int32)), 1)
    inner = np.where(chin > 0, inside, inner)
    parts = np.zeros_like(inside)
    for part in (LEFT_EYE, RIGHT_EYE, MOUTH[:12], NOSE[4:]):
        cv2.fillConvexPoly(parts, cv2.convexHull(np.round(points[part]).astype(np.int32)), 1)
    for brow in (LEFT_BROW, RIGHT_BROW):
        cv2.polylines(parts, [np.round(points[brow]).astype(np.int32)], False, 1, max(1, int(side * 0.04)))
    parts = cv2.dilate(parts, disc(max(1, int(round(side * 0.02)))))
    return (inner > 0) & (parts == 0), inner > 0

"""What covers a face: occlusion masks that convert cuts out of the face mask.

Sources, chosen by name in ``convert.occlusion``:

- ``hands``: MediaPipe Hands tracks hands through the video (rule ``hands``,
  ``results/hands/<video>.parquet``: 21 points a hand in frame pixels); a hand
  is the convex hull of its points in aligned-crop space, dilated by a share
  of the hand's size (the points are joint centres, not the skin's edge).
- ``reconstruction``: the trained model rebuilds the target's own face
  (decoder B on B's face). Where the face differs from its rebuild far more
  than faces usually do at that spot (B's held-out training faces, measured
  when the model is written, or faces of the video), and over neighbouring
  frames too, something the model never learned is in front of it.
- ``learned``: a model that learns a mask (``model.mask``) trained with
  occluders pasted on its inputs (``data.occlusion``) leaves out of its mask
  what covers the face; where the landmark mask says face and the learned
  one does not, something is in front of it.
- ``skin``: where the face is not the colour of its own skin (measured on
  each face) nor as dark, something is in front of it; no model is asked,
  so what B's decoder learned to draw is found too.

Occlusion masks are float32 in [0, 1], 1 where the face is covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from swapflow.anatomy import LEFT_BROW, LEFT_EYE, MOUTH, NOSE, RIGHT_BROW, RIGHT_EYE
from swapflow.geometry import transform_points
from swapflow.alignments import table
from swapflow.frames import frame_index, progress, read_frame
from swapflow.settings import HandsConfig

if TYPE_CHECKING:
    from swapflow.convert import Swapper

HAND_COLUMNS = {"frame": "int64", "hand": "int64", "landmarks": "object"}  # 42 floats: x0, y0, ...
WRIST, MIDDLE_KNUCKLE = 0, 9
ERROR_FLOOR = 0.01  # added to the error spread: 1% of the colour range is never an occluder's sign
USUAL_FACES = 64  # faces whose reconstruction errors give the usual error at each pixel
# the band along a face's edge where a learned mask's doubt, or a colour unlike the skin's (hair,
# background), is not by itself an occluder's sign (a share of the side: on the demo it halved what
# clean faces lost to the learned mask, 0.035 -> 0.024 of their mask, at 0.03 -> 0.06)
FACE_EDGE = 0.06
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation of a normal distribution
SKIN_FLOOR = 0.004  # added to the skin's chromaticity spread: JPEG noise is never an occluder's sign
INNER_SHARE = 0.25  # the least share of ``min_area`` a skin occluder has on the skin
DARK = 0.3  # darker than this share of the skin's median brightness is not skin (a shadow keeps more)
CHIN_JAW, MOUTH_CORNERS = range(5, 12), (48, 54)  # the chin: no hair comes in along its edge


def track_hands(frame_paths: Sequence, frames: Iterable[int], cfg: HandsConfig) -> pd.DataFrame:
    """Hands in ``frames`` (indices into the video, tracked in order): one row a hand."""
    from swapflow.landmarks import HandTracker  # mediapipe only where hands are tracked

    tracker = HandTracker(cfg.hand_confidence)
    paths = {frame_index(p): p for p in frame_paths}
    rows = []
    for frame in progress(sorted(set(frames)), "hands"):
        for k, points in enumerate(tracker(read_frame(paths[frame]))):
            rows.append({"frame": frame, "hand": k, "landmarks": points.ravel().tolist()})
    return table(rows, HAND_COLUMNS)


def hands_by_frame(hands: pd.DataFrame) -> dict[int, list[np.ndarray]]:
    """frame -> its hands, each ``(21, 2)`` in frame pixels."""
    out: dict[int, list[np.ndarray]] = {}
    for frame, points in zip(hands["frame"], hands["landmarks"]):
        out.setdefault(int(frame), []).append(np.asarray(points, np.float64).reshape(-1, 2))
    return out


def hand_mask(hands: Sequence[np.ndarray], matrix: np.ndarray, size: int, dilate: float) -> np.ndarray:
    """Occlusion of the aligned crop (``matrix``: frame -> crop, side ``size``) by ``hands``:
    each hand's hull, grown by ``dilate`` times its wrist-to-middle-knuckle length."""
    mask = np.zeros((size, size), np.uint8)
    for hand in hands:
        points = transform_points(hand, matrix)
        hull = np.zeros_like(mask)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 1)
        grow = int(round(dilate * np.linalg.norm(points[MIDDLE_KNUCKLE] - points[WRIST])))
        if grow > 0:
            hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        mask |= hull
    return mask.astype(np.float32)


def reconstruction_errors(seen: np.ndarray, rebuilt: np.ndarray) -> np.ndarray:
    """How far each face (``seen``: what the model sees of the crops, uint8 RGB
    (N, s, s, 3)) is from its rebuild by the target's own decoder: float32 (N, s, s),
    the mean absolute RGB difference / 255 after blurring both over 1/32 of the
    side (detail the model blurs away is not an occluder)."""
    sigma = seen.shape[1] / 32

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigma)

    return np.stack([np.abs(blur(a) - blur(b)).mean(-1) / 255 for a, b in zip(seen, rebuilt)]
                    ) if len(seen) else np.zeros(seen.shape[:3], np.float32)


def decoder_errors(model: "Swapper", crops: np.ndarray) -> np.ndarray:
    """``reconstruction_errors`` of faceset-style ``crops`` rebuilt by the model's
    decoder B (what training measures on B's held-out faces and convert on the video's)."""
    rebuilt, _ = model.swap(crops, to="b")
    return reconstruction_errors(model.coverage_crop(crops), rebuilt)


def usual_error(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The usual error at each pixel of ``errors`` (N, s, s) of N faces: their
    median, and their spread (the median absolute deviation, as a standard deviation)."""
    usual = np.median(errors, axis=0)
    return usual, MAD_TO_SIGMA * np.median(np.abs(errors - usual), axis=0)


def reconstruction_mask(errors: Sequence[np.ndarray], usual: np.ndarray, spread: np.ndarray,
                        face: np.ndarray, threshold: float, min_area: float) -> np.ndarray:
    """Occlusion from a face's reconstruction errors over neighbouring frames.

    A pixel is covered where the errors' mean lies more than ``threshold``
    standard deviations above the video's usual error there (``usual``,
    ``spread``: eyes, mouth and the face's edge are never rebuilt well and vary
    most), inside ``face`` (its mask, same size), in ``patches``. Averaging
    over the window keeps the mask from flickering: a spot must differ in most
    frames.
    """
    z = (np.mean(errors, axis=0) - usual) / (spread + ERROR_FLOOR)
    return patches((z > threshold) & (face > 0.5), face, min_area)


def learned_occlusion(learned: np.ndarray, face: np.ndarray, min_area: float) -> np.ndarray:
    """Occlusion where the landmark mask ``face`` says face and the model's
    ``learned`` mask (same size) does not, in patches of at least ``min_area``;
    not in a band of ``FACE_EDGE`` of the side along the face's edge, where
    the two masks disagree about the face's outline, not about occluders."""
    margin = int(round(FACE_EDGE * face.shape[0]))
    inner = cv2.erode((face > 0.5).astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
    return patches((learned < 0.5) & (inner > 0), face, min_area)


def patches(occluded: np.ndarray, face: np.ndarray, min_area: float) -> np.ndarray:
    """``occluded`` (bool) opened and closed with a 3-pixel disc, without the
    patches smaller than ``min_area`` of the square (an occluder is a patch,
    not specks), inside ``face``: float32, 1 where covered."""
    occluded = occluded.astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    occluded = cv2.morphologyEx(cv2.morphologyEx(occluded, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(occluded)
    big = stats[:, cv2.CC_STAT_AREA] >= min_area * occluded.size
    big[0] = False  # the background
    return (big[labels] & (face > 0.5)).astype(np.float32)


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
    return patches((near > 0) & differs, face, 0.0)


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

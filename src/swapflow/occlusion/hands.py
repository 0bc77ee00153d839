"""Occlusion source ``hands``: hands tracked by MediaPipe Hands, each the hull of its 21 points grown to the skin's edge."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar

import cv2
import numpy as np
import pandas as pd

from swapflow.alignments import table
from swapflow.frames import frame_index, progress, read_frame
from swapflow.geometry import transform_points
from swapflow.occlusion import Face, Scene
from swapflow.schema import setting, settings_section

HAND_COLUMNS = {"frame": "int64", "hand": "int64", "landmarks": "object"}  # 42 floats: x0, y0, ...
WRIST, MIDDLE_KNUCKLE = 0, 9
log = logging.getLogger(__name__)


@settings_section
class HandsOptions:
    """Occlusion source ``hands``'s own settings (config section ``convert.hands``)."""

    section: ClassVar[str] = "convert.hands"
    dilate: float = setting(0.25, "how far a hand's hull (of its 21 joint points) grows to reach the skin's "
                            "edge, a share of the hand's wrist-to-knuckle length", minimum=0)
    confidence: float = setting(0.5, "MediaPipe Hands' detection and tracking confidence in rule `hands` (once "
                                "a video for every swap: set in the global `convert` section, not a swap's)",
                                exclusiveMinimum=0, maximum=1)


class Hands:
    """Hands over the face, from rule hands' table (else tracked here in the kept faces' frames)."""

    Options = HandsOptions

    def __init__(self, scene: Scene, options: HandsOptions | None = None) -> None:
        self.options = options or HandsOptions()
        hands = scene.hands
        if hands is None:  # the whole video's, so shards agree
            log.info("tracking hands in the kept faces' frames (rule hands' table saves this)")
            hands = track_hands(list(scene.frames.values()), scene.faces["frame"], self.options.confidence)
        self.at = hands_by_frame(hands)

    def covered(self, face: Face) -> np.ndarray:
        x0, y0, side = face.box
        found = hand_mask(self.at.get(face.frame, []), face.matrix, face.crop.shape[0], self.options.dilate)
        return found[y0:y0 + side, x0:x0 + side]


def track_hands(frame_paths: Sequence, frames: Iterable[int], confidence: float = 0.5) -> pd.DataFrame:
    """Hands in ``frames`` (indices into the video, tracked in order): one row a hand."""
    from swapflow.landmarks import HandTracker  # mediapipe only where hands are tracked

    tracker = HandTracker(confidence)
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

"""Occlusion source ``learned``: what a model's learned mask leaves out of the landmark mask."""

from __future__ import annotations

import cv2
import numpy as np

from swapflow.occlusion import FACE_EDGE, Face, Scene, regions


class Learned:
    """Needs a model that learns a mask (``model.mask``), trained with pasted occluders (``data.occlusion``)."""

    def __init__(self, scene: Scene) -> None:
        if not scene.model.predicts_mask:
            raise ValueError("convert.occlusion has 'learned' but the model predicts no mask; "
                             "train it with model.mask=true (and data.occlusion), or leave 'learned' out")
        self.min_area = scene.min_area

    def covered(self, face: Face) -> np.ndarray:
        learned = face.learned
        found = learned_occlusion(learned, cv2.resize(face.landmark, learned.shape[::-1]), self.min_area)
        return cv2.resize(found, face.landmark.shape[::-1])


def learned_occlusion(learned: np.ndarray, face: np.ndarray, min_area: float) -> np.ndarray:
    """Occlusion where the landmark mask ``face`` says face and the model's
    ``learned`` mask (same size) does not, in patches of at least ``min_area``;
    not in a band of ``FACE_EDGE`` of the side along the face's edge, where
    the two masks disagree about the face's outline, not about occluders."""
    margin = int(round(FACE_EDGE * face.shape[0]))
    inner = cv2.erode((face > 0.5).astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1,) * 2))
    return regions((learned < 0.5) & (inner > 0), face, min_area)

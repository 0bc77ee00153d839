"""Face detectors: one protocol, implementations chosen by name.

Images are RGB uint8 arrays (H, W, 3) everywhere in swapflow. A detector
returns boxes ``(x0, y0, x1, y1, score)`` in frame pixels with ``score`` in
[0, 1]. Adding a detector means adding a class here and one entry to
``DETECTORS``.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import dlib
import mediapipe as mp
import numpy as np

Box = tuple[float, float, float, float, float]


class Detector(Protocol):
    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        """Faces in ``image_rgb`` as (x0, y0, x1, y1, score), frame pixels."""
        ...


class MediapipeDetector:
    """BlazeFace from ``mediapipe.solutions.face_detection``.

    ``range``: ``short`` (model 0, faces within ~2 m, i.e. large in frame),
    ``full`` (model 1, small/far faces) or ``auto``: short range first; when
    it finds nothing or a face narrower than ``SMALL`` of the frame's short
    side (where short range starts to miss faces), full range runs too and
    the model with more faces wins. Close-ups pay for one model and group or
    wide shots still get their small faces.
    """

    SMALL = 0.3

    def __init__(self, threshold: float = 0.75, range: str = "auto") -> None:
        if range not in ("auto", "short", "full"):
            raise ValueError(f"range must be auto, short or full, not {range!r}")
        fd = mp.solutions.face_detection
        self._models = [
            fd.FaceDetection(model_selection=sel, min_detection_confidence=threshold)
            for sel in {"auto": (0, 1), "short": (0,), "full": (1,)}[range]
        ]

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        h, w = image_rgb.shape[:2]
        boxes: list[Box] = []
        for model in self._models:
            found = [self._box(d, w, h) for d in model.process(image_rgb).detections or []]
            if len(found) > len(boxes):
                boxes = found
            if boxes and min(b[2] - b[0] for b in boxes) >= self.SMALL * min(w, h):
                break
        return boxes

    @staticmethod
    def _box(detection, w: int, h: int) -> Box:
        b = detection.location_data.relative_bounding_box
        x0, y0 = b.xmin * w, b.ymin * h
        return (x0, y0, x0 + b.width * w, y0 + b.height * h, float(detection.score[0]))


class DlibHogDetector:
    """dlib's HOG + linear SVM detector (frontal and near-frontal faces only).

    The SVM margin ``m`` is mapped to ``1 / (1 + exp(-m))``: dlib's own cut
    (m = 0) is score 0.5; the default threshold 0.75 asks for m >= 1.1 (clear
    frontal faces score m ~ 2, i.e. ~0.9). ``upsample`` doubles the
    image that many times before detecting (finds faces down to ~40 px at 1).
    """

    def __init__(self, threshold: float = 0.75, upsample: int = 1) -> None:
        self._detector = dlib.get_frontal_face_detector()
        self._threshold = threshold
        self._upsample = upsample

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        floor = math.log(self._threshold / (1 - self._threshold))
        rects, margins, _ = self._detector.run(image_rgb, self._upsample, floor)
        return [
            (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1), 1 / (1 + math.exp(-m)))
            for r, m in zip(rects, margins)
        ]


DETECTORS: dict[str, Callable[..., Detector]] = {
    "mediapipe": MediapipeDetector,
    "dlib-hog": lambda threshold=0.75, range="auto": DlibHogDetector(threshold),
}


def make_detector(name: str, threshold: float = 0.75, range: str = "auto") -> Detector:
    """The detector registered as ``name``."""
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {sorted(DETECTORS)}") from None
    return factory(threshold=threshold, range=range)

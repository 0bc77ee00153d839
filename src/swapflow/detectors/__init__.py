"""Face detectors: one protocol, plugins chosen by name (``swapflow.plugins``).

Images are RGB uint8 arrays (H, W, 3) everywhere in swapflow. A detector is
built with ``threshold`` (the least score kept), ``min_size`` (the smallest
face kept, a share of the frame's short side) and its own ``Options``, and
returns boxes ``(x0, y0, x1, y1, score)`` in frame pixels with ``score`` in
[0, 1]. Adding one: a module here and a line in ``DETECTORS``; its options
are configured under its name (``extract.<name>``).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from swapflow.plugins import Registry
from swapflow.settings import DetectConfig

Box = tuple[float, float, float, float, float]
log = logging.getLogger(__name__)


class Detector(Protocol):
    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        """Faces in ``image_rgb`` as (x0, y0, x1, y1, score), frame pixels."""
        ...


DETECTORS: Registry[Detector] = Registry("detector", {
    "mediapipe": "swapflow.detectors.mediapipe:MediapipeDetector",
    "dlib-hog": "swapflow.detectors.dlib_hog:DlibHogDetector",
    "dlib-cnn": "swapflow.detectors.dlib_cnn:DlibCnnDetector",
})
NONE = "none"  # no second detector


def seen_scale(shape: Sequence[int], max_side: int, upsample: int, max_seen: float) -> float:
    """The scale a detector sees a frame of ``shape`` at: down to ``max_side`` on
    its long side (0: not that way), and further where the picture it works on,
    the frame doubled ``upsample`` times, would have more than ``max_seen``
    pixels (what its memory allows)."""
    height, width = shape[:2]
    scale = min(1.0, max_side / max(height, width)) if max_side else 1.0
    seen = height * width * scale ** 2 * 4 ** upsample
    return scale * math.sqrt(max_seen / seen) if seen > max_seen else scale


class Seen:
    """The picture a dlib detector works on, from a frame: ``seen_scale``'s, with
    the first frame scaled for memory said in the log (``name``; ``cost``: what
    a pixel costs it)."""

    def __init__(self, name: str, max_side: int, upsample: int, max_seen: float, cost: str) -> None:
        self.name, self.max_side, self.upsample, self.max_seen, self.cost = name, max_side, upsample, max_seen, cost
        self.said = False

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """(the picture, contiguous, and its scale: boxes found on it divide by it)."""
        import cv2  # here: the config check at parse time needs no OpenCV

        scale = seen_scale(image.shape, self.max_side, self.upsample, self.max_seen)
        if scale < seen_scale(image.shape, self.max_side, 0, math.inf) and not self.said:
            self.said = True
            log.warning("%s: a %dx%d frame is seen at %.3g of its size (upsample %d, max_side %d): it takes "
                        "about %s a pixel and may see %.1f million", self.name, image.shape[1], image.shape[0],
                        scale, self.upsample, self.max_side, self.cost, self.max_seen / 1e6)
        seen = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(seen), scale


class Both:
    """Two detectors on one picture: the first's boxes, then the second's that
    overlap none of them by more than ``IOU`` (intersection over union)."""

    IOU = 0.3

    def __init__(self, first: Detector, second: Detector) -> None:
        self.first, self.second = first, second

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        return merge(self.first.detect(image_rgb), self.second.detect(image_rgb), self.IOU)


def merge(kept: list[Box], more: list[Box], most_iou: float) -> list[Box]:
    """``kept``, then non-maximum suppression of ``more``: the best-scoring box of
    each group overlapping more than ``most_iou`` where no kept box covers it yet."""
    kept = list(kept)
    for b in sorted(more, key=lambda b: -b[4]):
        if all(iou(b, k) <= most_iou for k in kept):
            kept.append(b)
    return kept


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1, ...)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def make_detector(name: str, threshold: float = DetectConfig.threshold, min_size: float = DetectConfig.min_size,
                  options: Mapping[str, Any] | None = None) -> Detector:
    """The detector registered as ``name`` with its ``options``."""
    return DETECTORS.make(name, options, threshold=threshold, min_size=min_size)

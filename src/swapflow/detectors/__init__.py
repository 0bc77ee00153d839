"""Face detectors: one protocol, plugins chosen by name (``swapflow.plugins``).

Images are RGB uint8 arrays (H, W, 3) everywhere in swapflow. A detector is
built with ``threshold`` (the least score kept), ``min_size`` (the smallest
face kept, a share of the frame's short side) and its own ``Options``, and
returns boxes ``(x0, y0, x1, y1, score)`` in frame pixels with ``score`` in
[0, 1]. Adding one: a module here and a line in ``DETECTORS``; its options
are configured under its name (``extract.<name>``).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import numpy as np

from swapflow.plugins import Registry

Box = tuple[float, float, float, float, float]


class Detector(Protocol):
    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        """Faces in ``image_rgb`` as (x0, y0, x1, y1, score), frame pixels."""
        ...


DETECTORS: Registry[Detector] = Registry("detector", {
    "mediapipe": "swapflow.detectors.mediapipe:MediapipeDetector",
    "dlib-hog": "swapflow.detectors.dlib_hog:DlibHogDetector",
})


def make_detector(name: str, threshold: float = 0.75, min_size: float = 0.05,
                  options: Mapping[str, Any] | None = None) -> Detector:
    """The detector registered as ``name`` with its ``options``."""
    return DETECTORS.make(name, options, threshold=threshold, min_size=min_size)

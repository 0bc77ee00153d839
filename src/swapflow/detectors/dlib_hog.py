"""Face detector ``dlib-hog``: dlib's HOG + linear SVM (frontal faces)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from swapflow.detectors import Box, Seen
from swapflow.settings import DetectConfig
from swapflow.schema import setting, settings_section


@settings_section
class DlibHogOptions:
    """Detector ``dlib-hog``'s own settings (config section ``extract.dlib-hog``)."""

    section: ClassVar[str] = "extract.dlib-hog"
    upsample: int = setting(1, "times the frame is doubled in size before detecting: 1 finds faces down to "
                            "about 40 px; each step more halves that, at about 4x the time", minimum=0, maximum=3)


class DlibHogDetector:
    """dlib's HOG + linear SVM detector (frontal and near-frontal faces only).

    The SVM margin ``m`` is mapped to ``1 / (1 + exp(-m))``: dlib's own cut
    (m = 0) is score 0.5; the default threshold 0.75 asks for m >= 1.1 (clear
    frontal faces score m ~ 2, i.e. ~0.9). ``upsample`` doubles the
    image that many times before detecting (finds faces down to ~40 px at 1):
    no tiling, and ``min_size`` is only the smallest face kept.
    """

    # pixels it may see (the frame after upsample): it takes about 10 bytes a
    # pixel (78 MB at 2048x2048, 181 MB at 4096x4096), so a larger picture is
    # scaled down to this (an 8192x8192 still at upsample 3 would need 43 GB)
    MAX_SEEN = 400_000_000
    Options = DlibHogOptions

    def __init__(self, threshold: float = DetectConfig.threshold, min_size: float = DetectConfig.min_size,
                 options: DlibHogOptions | None = None) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._threshold = threshold
        self._upsample = (options or DlibHogOptions()).upsample
        self._seen = Seen("dlib-hog", 0, self._upsample, self.MAX_SEEN, "10 bytes")

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        floor = math.log(self._threshold / (1 - self._threshold))
        seen, scale = self._seen(image_rgb)
        rects, margins, _ = self._detector.run(seen, self._upsample, floor)
        return [
            (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale,
             1 / (1 + math.exp(-m)))
            for r, m in zip(rects, margins)
        ]

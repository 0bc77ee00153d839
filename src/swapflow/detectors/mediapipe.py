"""Face detector ``mediapipe``: BlazeFace, on the whole frame and on tiles."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from swapflow.detectors import Box, merge
from swapflow.settings import DetectConfig
from swapflow.schema import setting, settings_section


@settings_section
class MediapipeOptions:
    """Detector ``mediapipe``'s own settings (config section ``extract.mediapipe``)."""

    section: ClassVar[str] = "extract.mediapipe"
    range: str = setting("auto", "BlazeFace model: `short` (faces near the camera), `full` (small faces), "
                         "`auto` (short, plus full when short finds none or only small faces)",
                         enum=["auto", "short", "full"])
    tiling: str = setting(
        "auto", "BlazeFace's short-range model also on overlapping tiles of 1/2, 1/4, ... of the frame's "
        "short side (down to 4 × `min_size`), boxes merged by non-maximum suppression: finds faces of 5 % "
        "of the frame and in grey or faded photos that the whole-frame pass misses. `auto`: only in frames "
        "where the whole frame shows no face or only faces narrower than 30 % of its short side (close-ups "
        "pay nothing; about 125 ms more per such frame on 2 cores); `always`; `never`",
        enum=["auto", "always", "never"])


class MediapipeDetector:
    """BlazeFace from ``mediapipe.solutions.face_detection``, on the whole frame and on tiles.

    ``range``: ``short`` (model 0, faces that fill much of its 128 px input),
    ``full`` (model 1, smaller faces) or ``auto``: short range first; when it
    finds nothing or a face narrower than ``SMALL`` of the frame's short side,
    full range runs too and the model with more faces (above ``threshold``)
    wins.

    ``tiling``: the short-range model also runs on overlapping square tiles of
    1/2, 1/4, ... of the frame's short side (down to 4x the smallest face kept,
    ``min_size`` of the short side), where small faces fill its input as it
    expects; tile boxes are added where the whole frame found no face, merged
    by non-maximum suppression.
    ``always``, ``never``, or ``auto``: only for frames whose whole-frame pass
    found no face or one narrower than ``SMALL`` of the short side, so close-ups
    pay for one pass.
    """

    SMALL = 0.3
    OVERLAP = 0.25  # of a tile's side shared with the next tile
    IOU = 0.3  # boxes overlapping more are one face

    Options = MediapipeOptions

    def __init__(self, threshold: float = DetectConfig.threshold, min_size: float = DetectConfig.min_size,
                 options: MediapipeOptions | None = None) -> None:
        import mediapipe as mp  # heavy: imported when a detector is made, not when its options are read

        options = options or MediapipeOptions()
        range, tiling = options.range, options.tiling
        fd = mp.solutions.face_detection
        self._models = {
            sel: fd.FaceDetection(model_selection=sel, min_detection_confidence=threshold)
            for sel in {"auto": (0, 1), "short": (0,), "full": (1,)}[range]
        }
        self._short = self._models.get(0) or fd.FaceDetection(model_selection=0,
                                                              min_detection_confidence=threshold)
        self.threshold, self.tiling, self.min_size = threshold, tiling, min_size

    def detect(self, image_rgb: np.ndarray) -> list[Box]:
        h, w = image_rgb.shape[:2]
        small = self.SMALL * min(w, h)
        boxes: list[Box] = []
        for model in self._models.values():
            found = self._run(model, image_rgb)
            if len(found) > len(boxes):
                boxes = found
            if boxes and min(b[2] - b[0] for b in boxes) >= small:
                break
        if self.tiling == "always" or (
                self.tiling == "auto" and (not boxes or min(b[2] - b[0] for b in boxes) < small)):
            boxes = merge(boxes, self._tiles(image_rgb), self.IOU)
        return boxes

    def _run(self, model, image: np.ndarray, x: int = 0, y: int = 0) -> list[Box]:
        """Boxes above the threshold (mediapipe lets some below through), offset by (x, y)."""
        h, w = image.shape[:2]
        out = []
        for d in model.process(image).detections or []:
            b = d.location_data.relative_bounding_box
            if d.score[0] >= self.threshold:
                out.append((x + b.xmin * w, y + b.ymin * h, x + (b.xmin + b.width) * w,
                            y + (b.ymin + b.height) * h, float(d.score[0])))
        return out

    def _tiles(self, image: np.ndarray) -> list[Box]:
        """Short-range boxes on tiles; a box touching a tile's inner edge is a cut face
        (it lies whole in an overlapping tile)."""
        h, w = image.shape[:2]
        short = min(w, h)
        out = []
        side = short // 2
        while side >= max(64, 4 * self.min_size * short):
            step = max(1, int(side * (1 - self.OVERLAP)))
            for y in _starts(h, side, step):
                for x in _starts(w, side, step):
                    tile = np.ascontiguousarray(image[y:y + side, x:x + side])
                    for b in self._run(self._short, tile, x, y):
                        cut = ((b[0] <= x + 1 and x > 0) or (b[1] <= y + 1 and y > 0)
                               or (b[2] >= x + side - 1 and x + side < w)
                               or (b[3] >= y + side - 1 and y + side < h))
                        if not cut:
                            out.append(b)
            side //= 2
        return out


def _starts(length: int, side: int, step: int) -> list[int]:
    """Tile starts covering ``length``, the last one flush with the end."""
    return sorted({*range(0, max(length - side, 0) + 1, step), max(length - side, 0)})

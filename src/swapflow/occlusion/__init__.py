"""What covers a face: occlusion sources, plugins chosen by name in ``convert.occlusion``, whose finds convert cuts out of the face mask.

Built-in sources, one module each, each with its own settings under
``convert.<source>``:

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

A source is built once a convert job with the job's ``Scene`` and its own
``Options``; ``covered(face)`` returns what covers one ``Face``, float32 in
[0, 1] over the model's square, 1 where covered. Adding one: a module here
with its class and a line in ``OCCLUSIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from swapflow.plugins import Registry

if TYPE_CHECKING:
    import pandas as pd

    from swapflow.convert import Swapper

# the band along a face's edge where a learned mask's doubt, or a colour unlike the skin's (hair,
# background), is not by itself an occluder's sign (a share of the side: on the demo it halved what
# clean faces lost to the learned mask, 0.035 -> 0.024 of their mask, at 0.03 -> 0.06)
FACE_EDGE = 0.06


@dataclass
class Scene:
    """What a convert job gives its sources: the model, the frames it reads and
    the kept faces in them, its own frames, rule hands' table (None: not tracked)."""

    model: "Swapper"
    frames: dict[int, Path]  # every frame the job reads, by index (the video's beyond the job's)
    faces: "pd.DataFrame"  # the kept faces in ``frames``, in frame order
    mine: list[Path]  # the job's own frames
    batch_size: int  # faces per model call, whole batches of the video's faces
    min_area: float  # convert.occlusion_min_area: the smallest patch that counts
    hands: "pd.DataFrame | None" = None


@dataclass
class Face:
    """One face as the sources see it."""

    frame: int
    face: int  # its index in the frame
    crop: np.ndarray  # the aligned crop, uint8 RGB
    matrix: np.ndarray  # frame pixels -> crop pixels (2, 3)
    box: tuple[int, int, int]  # the model's square in the crop: x0, y0, side
    points: np.ndarray  # its 68 landmarks in square pixels
    landmark: np.ndarray  # its landmark mask over the square, float in [0, 1]
    learned: np.ndarray | None  # the model's learned mask of it (model size), if the model has one

    @property
    def square(self) -> np.ndarray:
        """The model's square of the crop."""
        x0, y0, side = self.box
        return self.crop[y0:y0 + side, x0:x0 + side]


class Source(Protocol):
    def covered(self, face: Face) -> np.ndarray:
        """What covers ``face``: float32 over its square, 1 where covered."""
        ...


OCCLUSIONS: Registry[Source] = Registry("occlusion source", {
    "hands": "swapflow.occlusion.hands:Hands",
    "reconstruction": "swapflow.occlusion.reconstruction:Reconstruction",
    "learned": "swapflow.occlusion.learned:Learned",
    "skin": "swapflow.occlusion.skin:Skin",
})


def make_sources(names: Sequence[str], options: Mapping[str, Mapping[str, Any]], scene: Scene) -> list[Source]:
    """The sources ``names``, each with its ``options`` (``convert.<source>``)."""
    return [OCCLUSIONS.make(name, options.get(name), scene=scene) for name in names]


def covered(sources: Sequence[Source], face: Face) -> np.ndarray:
    """What any of ``sources`` finds over ``face``'s square."""
    side = face.box[2]
    out = np.zeros((side, side), np.float32)
    for source in sources:
        out = np.maximum(out, source.covered(face))
    return out


def regions(occluded: np.ndarray, face: np.ndarray, min_area: float) -> np.ndarray:
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

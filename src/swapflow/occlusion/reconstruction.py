"""Occlusion source ``reconstruction``: where decoder B rebuilds the target's face far worse than it usually does there, in neighbouring frames too."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

import cv2
import numpy as np

from swapflow.alignments import face_matrix, whole_batches
from swapflow.frames import frame_index, read_frame, spread
from swapflow.geometry import warp
from swapflow.occlusion import Face, Scene, regions
from swapflow.reconstruction import USUAL_FACES, decoder_errors, usual_error
from swapflow.schema import setting, settings_section

log = logging.getLogger(__name__)
ERROR_FLOOR = 0.01  # added to the error spread: 1% of the colour range is never an occluder's sign


@settings_section
class ReconstructionOptions:
    """Occlusion source ``reconstruction``'s own settings (config section ``convert.reconstruction``)."""

    section: ClassVar[str] = "convert.reconstruction"
    threshold: float = setting(
        3.0, "how far above the usual error at a pixel (in standard deviations of that pixel's error over the "
        "faces `usual` names) the error must be to mark an occluder; lower finds more and eats more of clean "
        "faces", exclusiveMinimum=0)
    usual: str = setting(
        "model", "whose error is usual: `model` (decoder B's on B's held-out training faces, stored with the "
        "model: an occluder in every frame of the target stands out) or `video` (64 faces spread over the "
        "target video: anything in all its frames is usual)", enum=["model", "video"])
    frames: int = setting(1, "frames either side whose errors are averaged with a frame's, so the cut-out does "
                          "not flicker", minimum=0)


class Reconstruction:
    """What decoder B cannot rebuild of the faces, measured once for the job's faces."""

    Options = ReconstructionOptions

    def __init__(self, scene: Scene, options: ReconstructionOptions | None = None) -> None:
        self.options = options or ReconstructionOptions()
        self.min_area = scene.min_area
        self.errors = rebuild_errors(scene, self.options)

    def covered(self, face: Face) -> np.ndarray:
        reach = range(face.frame - self.options.frames, face.frame + self.options.frames + 1)
        window = [self.errors[(f, face.face)] for f in reach if (f, face.face) in self.errors]
        usual, spread_ = self.errors["usual"], self.errors["spread"]
        found = reconstruction_mask(window, usual, spread_, cv2.resize(face.landmark, usual.shape[::-1]),
                                    self.options.threshold, self.min_area)
        return cv2.resize(found, face.landmark.shape[::-1])


def rebuild_errors(scene: Scene, options: ReconstructionOptions) -> dict:
    """Reconstruction errors (B's decoder rebuilding B's faces): ``(frame, face)`` ->
    errors of the kept faces in the job's frames and ``options.frames`` frames
    either side; ``"usual"`` and ``"spread"`` -> the usual error at each pixel
    (``usual_error``): with ``usual: model``, that of B's held-out training
    faces the model carries; else (or for a model without it) that of
    ``USUAL_FACES`` faces spread over the whole video (the same for every shard)."""
    indices = [frame_index(p) for p in scene.mine]
    faces, model = scene.faces, scene.model
    if not indices or faces.empty:
        return {}
    reach = options.frames
    # a face's error never depends on where a shard starts
    window = faces["frame"].between(min(indices) - reach, max(indices) + reach)
    near = faces.iloc[[i for batch in whole_batches(window, scene.batch_size) for i in batch]]

    def rebuild(todo) -> dict[tuple[int, int], np.ndarray]:
        out = {}
        for start in range(0, len(todo), scene.batch_size):
            rows = list(todo.iloc[start:start + scene.batch_size].itertuples())
            crops = np.stack([warp(read_frame(scene.frames[row.frame]), face_matrix(row), int(row.size))
                              for row in rows])
            out.update(zip([(row.frame, row.face) for row in rows], decoder_errors(model, crops)))
        return out

    errors = rebuild(near)
    if options.usual == "model" and model.usual_error is not None:
        errors["usual"], errors["spread"] = model.usual_error
    else:
        if options.usual == "model":
            log.warning("the model carries no usual error of its held-out faces (trained before this "
                        "release, or without held-out faces): reconstruction uses the video's")
        errors["usual"], errors["spread"] = usual_error(
            np.stack(list(rebuild(faces.iloc[spread(len(faces), USUAL_FACES)]).values())))
    return errors


def reconstruction_mask(errors: Sequence[np.ndarray], usual: np.ndarray, spread: np.ndarray,
                        face: np.ndarray, threshold: float, min_area: float) -> np.ndarray:
    """Occlusion from a face's reconstruction errors over neighbouring frames.

    A pixel is covered where the errors' mean lies more than ``threshold``
    standard deviations above the video's usual error there (``usual``,
    ``spread``: eyes, mouth and the face's edge are never rebuilt well and vary
    most), inside ``face`` (its mask, same size), in ``regions``. Averaging
    over the window keeps the mask from flickering: a spot must differ in most
    frames.
    """
    z = (np.mean(errors, axis=0) - usual) / (spread + ERROR_FLOOR)
    return regions((z > threshold) & (face > 0.5), face, min_area)

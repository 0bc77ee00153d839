"""The mask convert blends a swapped face with: the face mask ``convert.mask`` chooses, less what the occlusion sources find, feathered."""

from __future__ import annotations

import cv2
import numpy as np

from swapflow.alignments import face_matrix
from swapflow.anatomy import POINTS
from swapflow.geometry import transform_points
from swapflow.mask import make_mask
from swapflow.occlusion import Face, Scene, covered, make_sources
from swapflow.settings import ConvertConfig


class FaceMasks:
    """The masks convert blends a face with, from ``convert``'s settings: the
    landmark mask, the learned one, and what the chosen occlusion sources find
    in front of the face (built once a job, with the job's ``scene``)."""

    def __init__(self, cfg: ConvertConfig, scene: Scene) -> None:
        self.cfg = cfg
        # occluders are looked for inside the landmark mask, whatever the blend's mask is
        self.landmark_mask = (make_mask(cfg.landmark_mask)
                              if cfg.mask != "learned" or set(cfg.occlusion) - {"hands"} else None)
        self.sources = make_sources(cfg.occlusion, cfg.sources, scene)

    def blend(self, row, box: tuple[int, int, int], crop: np.ndarray, learned: np.ndarray | None) -> np.ndarray:
        """The mask a face of ``row`` (its aligned ``crop``) is blended with, over the model's square ``box``."""
        whole = face_mask(row, box, crop, self.landmark_mask, learned, self.cfg)
        drawn = whole if self.landmark_mask is None else landmark_face(row, box, crop, self.landmark_mask)
        return blend_mask(whole, covered(self.sources, face_view(row, box, crop, drawn, learned)), self.cfg)


def face_view(row, box: tuple[int, int, int], crop: np.ndarray, landmark: np.ndarray,
              learned: np.ndarray | None) -> Face:
    """A face of the alignments (``row``, its aligned ``crop``) as the occlusion sources
    see it; ``landmark``: its landmark mask over the model's square ``box``."""
    matrix = face_matrix(row)
    points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), matrix) - box[:2]
    return Face(int(row.frame), int(row.face), crop, matrix, box, points, landmark, learned)


def face_mask(row, box: tuple[int, int, int], crop: np.ndarray, landmark_mask,
              learned: np.ndarray | None, cfg: ConvertConfig) -> np.ndarray:
    """Float mask in [0, 1] of the face over the model's square of the crop: ``convert.mask``'s
    choice of the landmark mask and the model's ``learned`` one (their minimum)."""
    side = box[2]
    masks = []
    if landmark_mask is not None and cfg.mask != "learned":
        masks.append(landmark_face(row, box, crop, landmark_mask))
    if learned is not None and cfg.mask != "landmarks":
        masks.append(cv2.resize(learned.astype(np.float32), (side, side)))
    return np.minimum.reduce(masks)


def landmark_face(row, box: tuple[int, int, int], crop: np.ndarray, landmark_mask) -> np.ndarray:
    """The landmark mask of the face of ``row`` (its aligned ``crop``) over the model's square, float in [0, 1]."""
    x0, y0, side = box
    points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), face_matrix(row))
    full = landmark_mask(points, crop.shape[0], crop).astype(np.float32) / 255
    return full[y0:y0 + side, x0:x0 + side]


def blend_mask(face: np.ndarray, covered: np.ndarray, cfg: ConvertConfig) -> np.ndarray:
    """What convert blends with: the ``face`` mask softened, less what is ``covered``,
    grown by twice the feather's sigma and then feathered, so the feathered edge
    lies on the face and every covered pixel stays as it was."""
    mask = soften(face, cfg)
    if not covered.any():
        return mask
    sigma = cfg.feather * face.shape[0]
    grow = int(round(2 * sigma))
    if grow:
        covered = cv2.dilate(covered, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        covered = np.maximum(covered, cv2.GaussianBlur(covered, (0, 0), sigma))
    return mask * (1 - np.clip(covered, 0, 1))


def soften(mask: np.ndarray, cfg: ConvertConfig) -> np.ndarray:
    """``mask`` eroded (or dilated) and feathered as ``convert`` says."""
    side = mask.shape[0]
    if cfg.erode:
        k = max(1, int(abs(cfg.erode) * side)) * 2 + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        mask = cv2.erode(mask, kernel) if cfg.erode > 0 else cv2.dilate(mask, kernel)
    if cfg.feather:
        sigma = cfg.feather * side
        pad = int(3 * sigma) + 1
        # zero padding: the mask fades out before the edge of the model's square
        padded = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        mask = cv2.GaussianBlur(padded, (0, 0), sigma)[pad:-pad, pad:-pad]
    return np.clip(mask, 0, 1)

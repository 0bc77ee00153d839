"""68-point landmarkers: one protocol, implementations chosen by name.

A landmarker takes an RGB frame and a face box ``(x0, y0, x1, y1)`` in frame
pixels and returns a ``(68, 2)`` float array in iBUG-68 order (jaw 0-16,
brows 17-26, nose 27-35, eyes 36-47, mouth 48-67), frame pixels.
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import dlib
import face_recognition_models
import mediapipe as mp
import numpy as np

# Face Mesh vertex (of 468) standing for each iBUG-68 point. Chosen for
# swapflow as the vertex nearest on average (inter-ocular-normalised) to
# dlib's point on the demo clips; jaw points 0-16 were restricted to the
# mesh's face-oval vertices, so the mesh jaw is the visible face outline.
MESH_TO_IBUG68 = np.array(
    [
        127, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 356,  # jaw
        70, 63, 105, 66, 107, 336, 296, 334, 293, 300,  # brows
        168, 197, 5, 4, 240, 97, 2, 326, 305,  # nose
        33, 160, 158, 155, 153, 144, 362, 385, 386, 249, 373, 380,  # eyes
        61, 39, 37, 0, 267, 269, 306, 405, 314, 17, 84, 91,  # outer lips
        62, 82, 13, 312, 308, 317, 14, 87,  # inner lips
    ]
)

# dlib's 68-point model was trained on boxes from dlib's HOG detector; BlazeFace
# boxes have the same size but sit higher by this fraction of their width
# (median over the demo clips), so boxes are moved down before predicting.
_DLIB_BOX_SHIFT = 0.067


class Landmarker(Protocol):
    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
        """(68, 2) iBUG-68 points in frame pixels for the face in ``box``."""
        ...


class DlibLandmarker:
    """dlib's 68-point shape predictor (``face_recognition_models``)."""

    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
        x0, y0, x1, y1 = box[:4]
        dy = _DLIB_BOX_SHIFT * (x1 - x0)
        rect = dlib.rectangle(round(x0), round(y0 + dy), round(x1) - 1, round(y1 + dy) - 1)
        shape = self._predictor(image_rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


class MeshLandmarker:
    """MediaPipe Face Mesh (468 points, no iris refinement) mapped to iBUG-68.

    Face Mesh runs on a square crop of 1.6x the box around its centre, so
    the mesh follows the given box rather than finding faces on its own.
    Returns NaNs when Face Mesh finds no face in the crop.
    """

    def __init__(self) -> None:
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=False
        )

    def mesh(self, image_rgb: np.ndarray, box: Sequence[float] | None = None) -> np.ndarray | None:
        """All 468 (x, y) mesh points in image pixels, or None if no face.

        Without ``box`` the whole image is the crop (used on aligned crops).
        """
        h, w = image_rgb.shape[:2]
        if box is None:
            ox, oy, crop = 0, 0, image_rgb
        else:
            x0, y0, x1, y1 = box[:4]
            side = max(int(round(1.6 * max(x1 - x0, y1 - y0))), 1)
            ox, oy = int(round((x0 + x1 - side) / 2)), int(round((y0 + y1 - side) / 2))
            crop = np.zeros((side, side, 3), np.uint8)
            sx0, sy0, sx1, sy1 = max(ox, 0), max(oy, 0), min(ox + side, w), min(oy + side, h)
            crop[sy0 - oy : sy1 - oy, sx0 - ox : sx1 - ox] = image_rgb[sy0:sy1, sx0:sx1]
        found = self._mesh.process(crop).multi_face_landmarks
        if not found:
            return None
        ch, cw = crop.shape[:2]
        pts = np.array([(p.x * cw, p.y * ch) for p in found[0].landmark], dtype=np.float64)
        return pts + (ox, oy)

    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float]) -> np.ndarray:
        pts = self.mesh(image_rgb, box)
        return np.full((68, 2), np.nan) if pts is None else pts[MESH_TO_IBUG68]


LANDMARKERS: dict[str, Callable[[], Landmarker]] = {"dlib": DlibLandmarker, "mesh": MeshLandmarker}


def make_landmarker(name: str) -> Landmarker:
    """The landmarker registered as ``name``."""
    try:
        return LANDMARKERS[name]()
    except KeyError:
        raise ValueError(f"unknown landmarker {name!r}; choose from {sorted(LANDMARKERS)}") from None

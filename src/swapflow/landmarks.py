"""68-point landmarkers: one protocol, implementations chosen by name.

A landmarker takes an RGB frame and a face box ``(x0, y0, x1, y1)`` in frame
pixels and returns a ``(68, 2)`` float array of iBUG-68 points in frame
pixels (the parts are named in swapflow.anatomy).
"""

from __future__ import annotations

import logging
from typing import Protocol, Sequence

import cv2
import dlib
import face_recognition_models
import mediapipe as mp
import numpy as np

from swapflow.anatomy import INNER, POINTS, eye_centres, interocular
from swapflow.plugins import Registry

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

# dlib's 68-point model was trained on boxes of dlib's HOG detector. That box
# from a face's 68 points (median over 36 faces of the demo clips): centred on
# the points' mean, higher by 0.059 and with sides of 1.047 of their width.
_BOX_RISE, _BOX_SIDE = 0.059, 1.047
# Face Mesh's crop: this many times the side of the box it is given
MESH_CROP = 1.6
# widest face (pixels across its 68 points) that dlib fits at full size; wider ones are
# fitted on a crop scaled down to it (HD frames: a fraction of the warp, the same fit)
FIT_WIDTH = 200
# the points' centre may lie this share of the box's height above the box (the brows)
ABOVE_BOX = 0.25

log = logging.getLogger(__name__)


class Landmarker(Protocol):
    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float], start: np.ndarray | None = None) -> np.ndarray:
        """(68, 2) iBUG-68 points in frame pixels for the face in ``box``; NaNs
        when no face is found there or the points do not fit it. ``start``: where
        the points are expected (a face tracked between frames), for a landmarker
        that fits from a start."""
        ...


class DlibLandmarker:
    """dlib's 68-point shape predictor (``face_recognition_models``), fitted and checked.

    dlib's cascade starts from a box, and lands most of a face off when that box
    is framed otherwise than its training boxes (a detector's box a third of a
    face too low: 0.87 of the eye distance). So Face Mesh, which finds the face
    in a crop of 1.6x the detector's box whatever its framing, gives the start:
    each pass turns the face upright by the roll of the last points' eyes and
    starts dlib from the box dlib's own detector would draw around them, so faces
    rotated in the image plane (45 degrees and more) fit too. The fit is taken
    once two passes in a row agree within ``SETTLED`` of the eye distance. A box
    where the mesh sees no face, a fit that never settles, one that lies further
    than ``AGREE`` from the mesh's eyes, brows, nose and mouth, or one outside the
    detector's box gets NaNs (and a line in the log), never a wrong fit. Given a
    ``start`` (a tracked face: its neighbours' points, interpolated), the fit
    starts from it instead of the mesh and is checked against it the same way.
    """

    PASSES = 3
    SETTLED = 0.15
    AGREE = 0.3

    def __init__(self) -> None:
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        self._mesh = MeshLandmarker()

    def _predict(self, image_rgb: np.ndarray, centre: Sequence[float], side: float) -> np.ndarray:
        x, y, half = centre[0], centre[1], side / 2
        rect = dlib.rectangle(round(x - half), round(y - half), round(x + half) - 1, round(y + half) - 1)
        return np.array([(p.x, p.y) for p in self._predictor(image_rgb, rect).parts()], dtype=np.float64)

    def _upright_pass(self, image_rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Predict again on a crop turned so that the eyes of ``points`` are level."""
        left, right = eye_centres(points)
        roll = np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0]))
        centre = (float(points[:, 0].mean()), float(points[:, 1].mean()))
        turn = cv2.getRotationMatrix2D(centre, float(roll), 1.0)
        width = float(np.ptp(cv2.transform(points[None], turn)[0][:, 0]))
        scale = min(1.0, FIT_WIDTH / max(width, 1.0))
        turn, width = cv2.getRotationMatrix2D(centre, float(roll), scale), width * scale
        side = int(np.ceil(3 * width)) + 1
        turn[:, 2] += side / 2 - np.array(centre)  # the face centre to the middle of the crop
        crop = cv2.warpAffine(image_rgb, turn, (side, side), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        found = self._predict(crop, (side / 2, side / 2 - _BOX_RISE * width), _BOX_SIDE * width)
        return cv2.transform(found[None], cv2.invertAffineTransform(turn))[0]

    def _fit(self, image_rgb: np.ndarray, points: np.ndarray) -> np.ndarray | None:
        """Upright passes from ``points`` until two agree; None if they never do."""
        for _ in range(self.PASSES):
            moved, points = points, self._upright_pass(image_rgb, points)
            if np.linalg.norm(points - moved, axis=1).mean() < self.SETTLED * interocular(points):
                return points
        return None

    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float], start: np.ndarray | None = None) -> np.ndarray:
        x0, y0, x1, y1 = box[:4]
        where = f"face box {[round(v) for v in (x0, y0, x1, y1)]}"
        mesh = self._mesh.landmarks(image_rgb, box) if start is None else start
        if np.isnan(mesh).any():
            log.info("landmarks dropped: Face Mesh sees no face in the %s", where)
            return mesh
        points = self._fit(image_rgb, mesh)
        if points is None:
            log.info("landmarks dropped: no stable fit in the %s", where)
            return np.full((POINTS, 2), np.nan)
        if _apart(points, mesh) > self.AGREE:
            log.info("landmarks dropped: dlib and Face Mesh disagree by %.2f of the eye "
                     "distance in the %s", _apart(points, mesh), where)
            return np.full((POINTS, 2), np.nan)
        centre = points.mean(0)
        if not (x0 <= centre[0] <= x1 and y0 - ABOVE_BOX * (y1 - y0) <= centre[1] <= y1):
            log.info("landmarks dropped: they settled outside the %s", where)
            return np.full((POINTS, 2), np.nan)
        return points


def _apart(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance of the inner points (brows, nose, eyes, mouth) over the eye distance."""
    return float(np.linalg.norm(a[INNER] - b[INNER], axis=1).mean() / interocular(a))


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
            side = max(int(round(MESH_CROP * max(x1 - x0, y1 - y0))), 1)
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

    def landmarks(self, image_rgb: np.ndarray, box: Sequence[float], start: np.ndarray | None = None) -> np.ndarray:
        pts = self.mesh(image_rgb, box)  # the mesh finds the face itself: no start
        return np.full((POINTS, 2), np.nan) if pts is None else pts[MESH_TO_IBUG68]


LANDMARKERS: Registry[Landmarker] = Registry("landmarker", {"dlib": "swapflow.landmarks:DlibLandmarker",
                                                            "mesh": "swapflow.landmarks:MeshLandmarker"})


def make_landmarker(name: str) -> Landmarker:
    """The landmarker registered as ``name``."""
    return LANDMARKERS.make(name)


class HandTracker:
    """MediaPipe Hands (palm detector and 21-point hand landmark model inside the
    mediapipe wheel) in tracking mode: feed it frames in order.

    Returns each hand found as a ``(21, 2)`` array of points in image pixels.
    """

    def __init__(self, min_confidence: float = 0.5, max_hands: int = 2) -> None:
        self._hands = mp.solutions.hands.Hands(
            static_image_mode=False, max_num_hands=max_hands, model_complexity=1,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence,
        )

    def __call__(self, image_rgb: np.ndarray) -> list[np.ndarray]:
        h, w = image_rgb.shape[:2]
        found = self._hands.process(image_rgb).multi_hand_landmarks or []
        return [np.array([(p.x * w, p.y * h) for p in hand.landmark], np.float64) for hand in found]

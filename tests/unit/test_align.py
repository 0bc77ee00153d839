import cv2
import numpy as np
import pandas as pd
import pytest

from swapflow.geometry import CENTERINGS, MEAN_FACE_2D, align_matrix, head_pose, transform_points
from swapflow.alignments import ALIGN_COLUMNS, aligned_landmarks, landmarks, read_alignments, write_alignments
from swapflow.anatomy import INNER, MIRROR, eye_centres, interocular
from swapflow.extract import ReferenceStillError, align_faces, embed_stills, extract_frames
from swapflow.frames import read_frame
from swapflow.io import InputError


def _jitter(table: pd.DataFrame) -> float:
    return float(np.linalg.norm(np.diff(aligned_landmarks(table), axis=0), axis=2).mean())


def test_aligned_in_both_clips_upright_and_centred(man, woman):
    expected = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D))
    want = np.array(eye_centres(expected))
    for ex in (man, woman):
        table = ex.alignments
        assert table["frame"].nunique() >= 0.95 * len(ex.frames)
        pts = aligned_landmarks(table)
        left, right = (np.array(e) for e in zip(*map(eye_centres, pts)))
        angle = np.degrees(np.arctan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0]))
        assert np.median(np.abs(angle)) < 3 and np.abs(angle).max() < 10
        eyes = np.stack([left, right], 1)
        assert np.median(np.linalg.norm(eyes - want, axis=2)) < 0.04 * 256
    assert list(woman.alignments.columns) == list(ALIGN_COLUMNS)
    assert woman.alignments["keep"].all() and woman.alignments["embedding"].isna().all()


def test_smoothing_reduces_jitter(man):
    assert _jitter(man.alignments) < 0.7 * _jitter(align_faces(man.raw, {"smoothing": False}))


def test_mesh_landmarks_close_to_dlib(man):
    frames = man.frames[::6]
    dlib = align_faces(man.raw, {"smoothing": False})
    mesh = align_faces(extract_frames(frames, {"landmarker": "mesh"}), {"smoothing": False})
    both = dlib.merge(mesh, on=["frame", "face"], suffixes=("", "_mesh"))
    assert len(both) == len(frames)
    a, b = landmarks(both), landmarks(both.assign(landmarks=both["landmarks_mesh"]))
    iod = np.array([interocular(p) for p in a])
    assert (np.linalg.norm(a - b, axis=2)[:, INNER] / iod[:, None]).mean() < 0.08


def test_pose_mirrors(man):
    pts = landmarks(man.alignments)[0]
    width, height = read_frame(man.frames[0]).shape[1::-1]
    mirror = np.array([width - pts[:, 0], pts[:, 1]]).T[MIRROR]
    yaw, pitch, roll = head_pose(pts, (width, height))
    myaw, mpitch, mroll = head_pose(mirror, (width, height))
    assert abs(yaw + myaw) < 1 and abs(roll + mroll) < 1 and abs(pitch - mpitch) < 1
    assert max(abs(yaw), abs(roll)) < 15


@pytest.fixture(scope="module")
def pair(man_frames, woman_frames, tmp_path_factory):
    """One frame showing the woman (left) and the man (right), with embeddings."""
    path = tmp_path_factory.mktemp("pair") / "000000.png"
    side = np.hstack([read_frame(woman_frames[300]), read_frame(man_frames[40])])
    cv2.imwrite(str(path), cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    return path, extract_frames([path], {"embeddings": True})


def test_identity_keeps_the_reference_person(pair, man_frames):
    _, raw = pair
    assert (raw["face"] >= 0).sum() == 2 and raw["embedding"].notna().all()
    reference = embed_stills("man", [man_frames[0], man_frames[70]])
    table = align_faces(raw, {"smoothing": False}, [reference])
    kept = table[table["keep"]]
    assert len(kept) == 1 and kept["x0"].iloc[0] >= 640
    assert align_faces(raw, {"keep_all": True})["keep"].sum() == 2
    assert align_faces(raw, {})["keep"].sum() == 1


def test_no_face_video_gives_empty_table(cartoon_frames, tmp_path):
    table = align_faces(extract_frames(cartoon_frames[:60:6], {}), {})
    assert table.empty and list(table.columns) == list(ALIGN_COLUMNS)
    assert table.dtypes["keep"] == bool and table.dtypes["frame"] == np.int64
    write_alignments(tmp_path / "a.parquet", table, 90, 640, 360)
    assert list(read_alignments(tmp_path / "a.parquet", 90, 640, 360).columns) == list(ALIGN_COLUMNS)


def test_alignments_of_another_video_are_refused(man, tmp_path):
    path = tmp_path / "a.parquet"
    write_alignments(path, man.alignments, 72, 640, 360)
    assert len(read_alignments(path, 72, 640, 360)) == len(man.alignments)
    for frames, width, height in ((100, 640, 360), (72, 1280, 720)):
        with pytest.raises(InputError, match=f"{path}: alignments of a 640x360 video of 72 frames"):
            read_alignments(path, frames, width, height)
    write_alignments(path, man.alignments, 20, 640, 360)
    with pytest.raises(InputError, match="alignments name frame 35, but the target has 20 frames"):
        read_alignments(path, 20, 640, 360)


def test_head_centering_is_larger_and_higher():
    face = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D, centering="face"))
    head = transform_points(MEAN_FACE_2D, align_matrix(MEAN_FACE_2D, centering="head"))
    assert np.ptp(head[:, 0]) < np.ptp(face[:, 0]) and head[:, 1].mean() > face[:, 1].mean()
    assert set(CENTERINGS) == {"face", "head"}
    with pytest.raises(ValueError):
        align_matrix(MEAN_FACE_2D, centering="body")


def test_reference_stills_that_cannot_pick_a_face_are_named(pair, man_frames, woman_frames, cartoon_frames,
                                                             tmp_path):
    still_of_two, _ = pair
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    for still, found in ((cartoon_frames[0], "no face found"), (still_of_two, "2 faces found"),
                         (broken, "not an image that can be read")):
        with pytest.raises(ReferenceStillError, match=f"reference still {still}: {found}"):
            embed_stills("man", [man_frames[0], still])
    raw = extract_frames(man_frames[:3], {"embeddings": True})
    with pytest.raises(ReferenceStillError) as err:
        align_faces(raw, {}, [embed_stills("woman", [woman_frames[300]])], "video man")
    assert f"video man: none of its 3 faces matches the reference stills ({woman_frames[300]})" in str(err.value)
    assert "identity_threshold is 0.6" in str(err.value)

"""Faceset curation and pose coverage on the demo clips, with the damage each
filter exists for made from real frames: another person cut in, motion blur,
frames repeated by a frame-rate conversion, a crowded pose."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from swapflow.geometry import head_pose
from swapflow.alignments import aligned_landmarks, kept_faces
from swapflow.anatomy import MIRROR
from swapflow.coverage import coverage_chart, expressions, frame_ranges, pose_coverage, source_faces, target_faces
from swapflow.curate import KEEP_ALL, counts, curate, removed_sheet
from swapflow.faceset import load_faceset
from swapflow.frames import list_frames, read_frame
from swapflow.settings import CoverageConfig, CurateConfig
from swapflow.pipeline import extract

ONLY = {"outlier": {"blur": 0, "duplicate_distance": 0},
        "blur": {"outlier_distance": 0, "duplicate_distance": 0},
        "duplicate": {"outlier_distance": 0, "blur": 0}}


def clip(folder: Path, frames: list[Path], edit=None) -> list[Path]:
    """``frames`` renumbered 0.. into ``folder`` (a video of them), each passed through ``edit``."""
    folder.mkdir(parents=True)
    for i, path in enumerate(frames):
        out = folder / f"{i:06d}{path.suffix}"
        if edit is None:
            shutil.copy2(path, out)
        else:
            cv2.imwrite(str(out), cv2.cvtColor(edit(i, read_frame(path)), cv2.COLOR_RGB2BGR))
    return list_frames(folder)


def record(extracted) -> pd.DataFrame:
    return load_faceset(extracted.faceset).curation


def test_another_person_cut_in_is_an_outlier(man_frames, woman_frames, tmp_path):
    """The woman's face in 3 frames of the man's clip: those 3 go, no face of his."""
    frames = clip(tmp_path / "cut", man_frames[:24] + woman_frames[200:203] + man_frames[24:30])
    done = extract(frames, tmp_path / "fs", curate=ONLY["outlier"])
    rec = record(done)
    assert rec.loc[rec["removed"] == "outlier", "frame"].tolist() == [24, 25, 26]
    assert rec.loc[rec["frame"] != 25, "distance"].max() > 0.6 > rec.loc[~rec["frame"].between(24, 26),
                                                                          "distance"].max()
    fs = load_faceset(done.faceset)
    assert len(fs) == 30 and not fs.index["frame"].between(24, 26).any()


def motion_blur(image: np.ndarray, length: int = 9) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1 / length  # a horizontal smear, as of a head turning
    return cv2.filter2D(image, -1, kernel)


def test_blur_is_judged_against_the_video(man_frames, tmp_path):
    """Three smeared frames of a sharp clip go; the same smear on every frame removes nothing."""
    smeared = {8, 18, 28}
    some = clip(tmp_path / "some", man_frames[:36], lambda i, im: motion_blur(im) if i in smeared else im)
    rec = record(extract(some, tmp_path / "fs1", curate=ONLY["blur"]))
    assert set(rec.loc[rec["removed"] == "blur", "frame"]) == smeared
    assert rec.loc[rec["frame"].isin(smeared), "sharpness"].max() < 0.5
    every = clip(tmp_path / "every", man_frames[:36], lambda i, im: motion_blur(im))
    rec = record(extract(every, tmp_path / "fs2", curate=ONLY["blur"]))
    assert (rec["removed"] == "").all() and rec["sharpness"].min() > 0.7


def test_repeated_frames_are_duplicates(man_frames, tmp_path):
    """Each frame 3 times (a 10 -> 30 fps conversion): without smoothing exactly the
    repeats go; with it (the default) still at least half the faces."""
    frames = clip(tmp_path / "x3", [p for p in man_frames[:16] for _ in range(3)])
    rec = record(extract(frames, tmp_path / "raw", align={"smoothing": False}, curate=ONLY["duplicate"]))
    assert rec.loc[rec["removed"] == "duplicate", "frame"].tolist() == [f for f in range(48) if f % 3]
    rec = record(extract(frames, tmp_path / "smooth", curate=ONLY["duplicate"]))
    assert (rec["removed"] == "duplicate").sum() >= 24
    # the clip as it is: a held smile has duplicates, the face moving has none
    rec = record(extract(clip(tmp_path / "x1", man_frames[:36]), tmp_path / "once", curate=ONLY["duplicate"]))
    assert 0 < (rec["removed"] == "duplicate").sum() < 18


def test_pose_cap_thins_crowded_bins_only(woman):
    faces = kept_faces(woman.alignments)
    cfg = CurateConfig(**KEEP_ALL, pose_bin=10, max_per_pose_bin=4)
    rec = curate(faces[["frame", "face", "yaw", "pitch", "blur"]], aligned_landmarks(faces) / 256, cfg)
    bins = [faces["yaw"] // 10, faces["pitch"] // 10]
    sizes = faces.groupby(bins).size()
    kept = rec[rec["removed"] == ""].groupby(bins).size()
    assert (sizes > 4).any(), "the demo should have a crowded bin"
    assert kept.to_dict() == sizes.clip(upper=4).to_dict()
    for _, group in rec.groupby(bins):  # the first and last face of a bin in time stay
        assert group["removed"].iloc[0] == group["removed"].iloc[-1] == ""
    table = counts(rec, cfg)
    assert table["filter"].tolist() == ["max_faces", "aligned faces", "outlier", "blur", "duplicate", "pose_cap"]
    assert table["removed"].tolist()[:5] == [0, 0, 0, 0, 0] and table["left"].iloc[-1] == kept.sum()
    assert table.loc[table["filter"] == "blur", "setting"].item() == "off"


def test_removed_sheet_labels_each_face(man, tmp_path):
    rec = curate(kept_faces(man.alignments)[["frame", "face", "yaw", "pitch", "blur"]],
                 aligned_landmarks(kept_faces(man.alignments)) / 256, CurateConfig(outlier_distance=0))
    removed_sheet(man.frames, man.alignments, rec, tmp_path / "removed.jpg")
    n = (rec["removed"] != "").sum()
    assert 0 < n < 36
    assert read_frame(tmp_path / "removed.jpg").shape == (128 * -(-n // 8), 128 * min(n, 8), 3)
    removed_sheet(man.frames, man.alignments, rec.assign(removed=""), tmp_path / "none.jpg")
    assert read_frame(tmp_path / "none.jpg").shape == (128, 128, 3)


def test_expressions_from_landmarks(man):
    """The man's clip: lips closed, then a smile with teeth from frame 21; a blink at 27-29."""
    faces = kept_faces(man.alignments)
    found = expressions(aligned_landmarks(faces)).set_index(faces["frame"])
    assert not found.loc[0:18, "mouth_open"].any() and found.loc[24:35, "mouth_open"].all()
    assert found.loc[27:29, "eyes_closed"].any() and not found.loc[0:24, "eyes_closed"].any()


def test_pose_coverage(man, woman, tmp_path):
    targets = target_faces(man.alignments)
    cfg = CoverageConfig()
    table, figures = pose_coverage(source_faces([man.faceset]), targets, cfg)
    assert figures["pose_coverage"] == 1.0 and figures["uncovered_frames"] == []
    women = source_faces([woman.faceset])
    turned = women[women["yaw"] < targets["yaw"].min() - cfg.radius]
    assert len(turned) >= cfg.min_faces, "the woman turns her head away in places"
    table, figures = pose_coverage(turned, targets, cfg)
    assert figures["pose_coverage"] == 0.0 and figures["uncovered_frames"] == list(range(36))
    assert (table["neighbours"] == 0).all()
    table, figures = pose_coverage(women, targets, cfg)
    near = np.hypot(*(targets[["yaw", "pitch"]].to_numpy()[:, None] - women[["yaw", "pitch"]].to_numpy()).T)
    assert table["neighbours"].tolist() == (near.T <= cfg.radius).sum(1).tolist()
    assert figures["mouth_open_target"] == pytest.approx(targets["mouth_open"].mean(), abs=1e-4)
    coverage_chart(women, table, figures, ("woman", "man"), cfg, tmp_path / "chart.png")
    assert read_frame(tmp_path / "chart.png").shape[:2] == (450, 1000)
    assert frame_ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"


def test_pose_coverage_counts_mirror_images_when_training_flips(man, tmp_path):
    """Training with data.flip shows the model each face mirrored: the mirror image's
    pose is the yaw negated (checked on the man's landmarks, flipped as an image
    flip moves them), so a target turned the other way is covered by those."""
    faces = kept_faces(man.alignments)
    height, width = read_frame(man.frames[0]).shape[:2]
    size = width, height
    for _, row in faces.iloc[::6].iterrows():
        points = np.asarray(row["landmarks"], float).reshape(68, 2)
        flipped = np.column_stack([size[0] - points[:, 0], points[:, 1]])[MIRROR]
        yaw, pitch, _ = head_pose(flipped, size)
        assert yaw == pytest.approx(-row["yaw"], abs=1.0) and pitch == pytest.approx(row["pitch"], abs=1.0)
    cfg = CoverageConfig(radius=5.0)
    targets = target_faces(man.alignments)
    turned = targets.assign(yaw=-targets["yaw"])  # the man's clip mirrored
    plain = source_faces([man.faceset])
    both = source_faces([man.faceset], mirror=True)
    assert len(both) == 2 * len(plain) and both["mirrored"].sum() == len(plain)
    _, unmirrored = pose_coverage(plain, turned, cfg)
    table, mirrored = pose_coverage(both, turned, cfg)
    assert unmirrored["pose_coverage"] < 0.5, "the man looks to one side: his mirror image is a pose he never shows"
    assert mirrored["pose_coverage"] == 1.0 and mirrored["mirrored"] and mirrored["source_faces"] == len(plain)
    # the mirrored faces cover the mirrored clip as they cover the clip itself: symmetric
    assert table["covered"].tolist() == pose_coverage(both, targets, cfg)[0]["covered"].tolist()
    assert mirrored["mouth_open_face"] == unmirrored["mouth_open_face"]
    coverage_chart(both, table, mirrored, ("man", "man mirrored"), cfg, tmp_path / "chart.png")
    assert read_frame(tmp_path / "chart.png").shape[:2] == (450, 1000)

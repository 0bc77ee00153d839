"""The whole swap in real snakemake runs: extract, a short training, convert, merge."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import cv2
import numpy as np
import pandas as pd
import pytest

from swapflow import video
from tests.conftest import planned_jobs, run_snakemake, write_config


def swap_config(demo_dir, workdir, **convert) -> dict:
    return {
        "videos": {"woman": str(demo_dir / "WolfgangLanger_Pexels.mp4"),
                   "man": str(workdir / "man.mp4"),
                   "noface": str(demo_dir / "noface_face.mov")},
        "identities": {"woman": {"videos": ["woman"]}, "man": {"videos": ["man"]}},
        "swaps": [{"name": "w2m", "face": "woman", "target": "man",
                   "videos": ["man", "noface"]}],
        "train": {"preset": "lite", "iterations": 20, "overrides": ["preview_every=10"]},
        "convert": convert,
        "evaluate": {"max_faces": 12, "reference_faces": 12, "holdout_faces": 12},
        "merge": {"preset": "ultrafast"},
    }


@pytest.fixture(scope="module")
def swapped(demo_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("swap")
    shutil.copy(demo_dir / "single_face.mp4", workdir / "man.mp4")
    write_config(workdir, swap_config(demo_dir, workdir))
    run_snakemake(workdir)
    return workdir


@pytest.mark.parametrize("name", ["man", "noface"])
def test_output_keeps_frames_rate_audio_and_is_tagged(swapped, name):
    probe = video.Probe.load(swapped / f"results/probe/{name}.json")
    out = video.describe(swapped / f"results/swap/w2m/{name}.mp4")
    assert out["frames"] == probe.frames
    assert abs(out["duration"] - probe.duration) <= float(1 / Fraction(probe.fps)) + 0.02
    assert out["audio"] is not None
    assert out["tags"]["comment"] == video.SYNTHETIC_COMMENT


def test_frames_without_faces_are_unchanged(swapped):
    alignments = pd.read_parquet(swapped / "results/align/noface.parquet")
    swapped_frames = set(alignments.loc[alignments["keep"], "frame"])
    originals = video.list_frames(swapped / "results/frames/noface")
    converted = video.list_frames(swapped / "results/convert/w2m/noface")
    assert len(converted) == len(originals) == 169
    untouched = [i for i in range(len(originals)) if i not in swapped_frames]
    assert len(untouched) >= 80, "the cartoon part of the clip should have no face"
    for i in untouched:
        assert originals[i].read_bytes() == converted[i].read_bytes(), f"frame {i} changed"


def test_only_the_face_changes(swapped):
    alignments = pd.read_parquet(swapped / "results/align/man.parquet")
    originals = video.list_frames(swapped / "results/frames/man")
    converted = video.list_frames(swapped / "results/convert/w2m/man")
    changed_inside = 0
    for row in alignments.itertuples():
        before = cv2.imread(str(originals[row.frame])).astype(int)
        after = cv2.imread(str(converted[row.frame])).astype(int)
        w, h = row.x1 - row.x0, row.y1 - row.y0
        far = np.ones(before.shape[:2], bool)
        far[max(0, int(row.y0 - h)):int(row.y1 + h), max(0, int(row.x0 - w)):int(row.x1 + w)] = False
        assert np.array_equal(before[far], after[far]), f"frame {row.frame}: pixels far from the face changed"
        inside = (slice(int(row.y0), int(row.y1)), slice(int(row.x0), int(row.x1)))
        changed_inside += np.abs(before[inside] - after[inside]).mean() > 2
    assert changed_inside == len(alignments), "some faces were not swapped"


def test_model_folder(swapped):
    model = swapped / "results/model/w2m"
    for name in ("model.pt", "config.yaml", "manifest.json", "losses.csv", "preview.jpg", "loss.png"):
        assert (model / name).stat().st_size > 0, name
    assert len(pd.read_csv(model / "losses.csv")) == 20


def test_metrics_and_summary(swapped):
    summary = pd.read_csv(swapped / "results/evaluate/summary.tsv", sep="\t")
    assert sorted(summary["video"]) == ["man", "noface"]
    man = summary.set_index("video").loc["man"]
    assert man["frames_swapped"] == 72 and man["id_retrieval_original"] <= 0.1
    assert (swapped / "results/evaluate/w2m/man.jpg").stat().st_size > 10_000


def test_report(swapped):
    run_snakemake(swapped, "--report", str(swapped / "report.html"))
    html = (swapped / "report.html").read_text()
    for shown in ("summary.tsv", "config.yaml", "preview.jpg", "loss.png", "man.jpg",
                  "woman.jpg", "Before | after"):
        assert shown in html, f"{shown} missing from the report"


def test_nothing_to_do_after_a_run(swapped):
    assert planned_jobs(swapped) == {}


def test_colour_setting_reruns_convert_and_merge_only(swapped, demo_dir):
    """... and the metrics of the converted videos, and the record of the config."""
    write_config(swapped, swap_config(demo_dir, swapped, color="histogram"))
    try:
        assert planned_jobs(swapped) == {"convert": 2, "merge": 2, "evaluate": 2, "summary": 1,
                                         "config_used": 1, "all": 1}
    finally:
        write_config(swapped, swap_config(demo_dir, swapped))


def test_new_target_video_needs_no_training(swapped, demo_dir):
    config = swap_config(demo_dir, swapped)
    config["videos"]["man2"] = str(demo_dir / "face_noface.mov")
    config["swaps"][0]["videos"].append("man2")
    write_config(swapped, config)
    try:
        # detect's shards are only known once split_frames (a checkpoint) has run
        assert planned_jobs(swapped) == {"split_frames": 1, "align": 1,
                                         "convert": 1, "merge": 1, "evaluate": 1,
                                         "summary": 1, "config_used": 1, "all": 1}
    finally:
        write_config(swapped, swap_config(demo_dir, swapped))


def test_replaced_training_video_of_b_reruns_b_and_training_only(swapped):
    clip = swapped / "man.mp4"
    kept = swapped / "man.orig.mp4"
    shutil.copy2(clip, kept)
    subprocess.run([video.ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(kept), "-c:v",
                    "libx264", "-crf", "30", "-c:a", "copy", str(clip)], check=True)
    try:
        jobs = planned_jobs(swapped)
    finally:
        shutil.copy2(kept, clip)
    # detect's shards are planned again once split_frames (a checkpoint) has rerun
    assert jobs == {"split_frames": 1, "align": 1, "mask": 1, "faceset": 1,
                    "train": 1, "convert": 2, "merge": 2, "evaluate": 2, "summary": 1, "all": 1}
    assert planned_jobs(swapped) == {}, "restoring the clip should leave nothing to do"

"""Evaluation metrics on a real (briefly trained) swap of the demo: woman's face on the man."""

from __future__ import annotations

import dataclasses
import json
import math

import cv2
import numpy as np
import pandas as pd
import pytest

from swapflow.convert import ConvertConfig, convert_frames
from swapflow.coverage import pose_coverage, source_faces, target_faces
from swapflow.evaluate import by_coverage, evaluate_swap
from swapflow.summary import METRICS
from swapflow.frames import FrameFiles
from swapflow.report import before_after_strip
from swapflow.summary import FACE_COUNTS, HEADLINE, summarize
from swapflow.settings import CoverageConfig
from swapflow.alignments import kept_faces
from swapflow.frames import list_frames, read_frame
from swapflow.io import read_json, write_json
from swapflow.train.config import compose_config
from swapflow.train.model_io import load_model
from swapflow.train.trainer import train
from swapflow.video.ffmpeg import VideoError
from swapflow.video.merge import merge
from swapflow.video.probe import Probe
from swapflow.video.read import VideoFrames
from swapflow.video.split import split
from tests.conftest import TRAIN_CONFIG

MAN_FRAMES = 36  # the man's frames (fixture ``man``): faceset B and the target of the swap
PASSED = [30, 31, 32]  # frames whose face is not kept, so convert copies them


@pytest.fixture(scope="module")
def swap(man, woman, tmp_path_factory):
    """A lite model trained 30 iterations on the woman (A) and the man (B), and
    the man's frames converted with it and merged into a video."""
    assert len(man.frames) == MAN_FRAMES
    root = tmp_path_factory.mktemp("evaluate")
    cfg = compose_config(TRAIN_CONFIG, "lite", ["iterations=30", "batch_size=8", "min_faces=10", "holdout=0.1",
                                          "log_every_s=0"])
    model_dir = train(cfg, [woman.faceset], [man.faceset], root / "model", root / "ckpt",
                      identities=("woman", "man"), threads=2)
    alignments = man.alignments.copy()
    alignments.loc[alignments["frame"].isin(PASSED), "keep"] = False
    convert_frames(man.frames, alignments, load_model(model_dir)[0], root / "converted", cfg=ConvertConfig(),
                   outlines_path=root / "outlines.parquet")
    probe = Probe.load(man.frames[0].parent.with_suffix(".json"))  # of all 72 frames
    probe = dataclasses.replace(probe, frames=MAN_FRAMES, timestamps=probe.timestamps[:MAN_FRAMES])
    merge([root / "converted"], probe, root / "swap.mp4", cfg={"preset": "ultrafast"})
    with VideoFrames(root / "swap.mp4") as output:
        yield {"original": man.frames, "output": output, "alignments": alignments,
               "model": model_dir, "a": [woman.faceset], "b": [man.faceset],
               "outlines": pd.read_parquet(root / "outlines.parquet")}


@pytest.fixture(scope="module")
def evaluated(swap):
    return evaluate_swap(swap["original"], swap["output"], swap["alignments"], swap["model"],
                         swap["a"], swap["b"], {"swap_faces": 12, "reference_faces": 12})


def test_identity_apart_for_covered_and_uncovered_poses(evaluated, swap):
    """The man's own faces cover every pose of his: all measured faces covered;
    marking every other frame uncovered splits them on the frame."""
    metrics, faces = evaluated
    table, _ = pose_coverage(source_faces(swap["b"]), target_faces(swap["alignments"]), CoverageConfig())
    split, flagged = by_coverage(faces, table)
    assert flagged["covered"].all() and split["id_faces_uncovered"] == 0
    assert split["id_retrieval_covered"] == pytest.approx(metrics["id_retrieval"])
    assert math.isnan(split["id_retrieval_uncovered"])
    split, flagged = by_coverage(faces, table.assign(covered=table["frame"] % 2 == 0))
    odd = flagged["frame"] % 2 == 1
    assert (flagged["covered"] == ~odd).all() and split["id_faces_uncovered"] == odd.sum() > 0
    assert split["id_retrieval_uncovered"] == pytest.approx(flagged.loc[odd, "closer_to_a"].astype(float).mean())
    assert math.isnan(by_coverage(faces, None)[0]["id_retrieval_covered"])


def test_metric_keys_and_coverage(evaluated, swap):
    metrics, faces = evaluated
    assert set(metrics) == set(METRICS)
    json.dumps(metrics, allow_nan=False)  # strict JSON
    assert metrics["face"] == "woman" and metrics["target"] == "man" and metrics["model_iterations"] == 30
    kept = kept_faces(swap["alignments"])
    assert metrics["frames_total"] == MAN_FRAMES
    assert metrics["frames_with_face"] == MAN_FRAMES  # the man is in every frame
    assert metrics["frames_swapped"] == kept["frame"].nunique() == MAN_FRAMES - len(PASSED)
    assert metrics["frames_passed_through"] == len(PASSED)
    assert 35 < metrics["frames_passed_psnr"] < 100  # encoded at crf 18: close, not identical
    assert metrics["faces_swapped"] == len(kept)
    assert metrics["faces_tracked"] == kept["tracked"].sum() == 0  # BlazeFace loses none of the man
    assert metrics["id_faces"] == len(faces) == 12
    assert set(faces["frame"]) <= set(kept["frame"])


def test_identity_baseline_and_ranges(evaluated):
    m, _ = evaluated
    # the unswapped man is the man: nearer B's faceset than A's, well within dlib's 0.6
    assert m["id_retrieval_original"] <= 0.1
    assert m["id_distance_b_original"] < 0.4 < m["id_distance_a_original"]
    assert m["id_ref_distance_ab"] > 0.6  # two different people
    assert 0 <= m["id_retrieval"] <= 1 and 0 < m["id_distance_a"] < 2 and 0 < m["id_distance_b"] < 2
    for key in ("pose_yaw_diff", "pose_pitch_diff", "pose_roll_diff"):
        assert 0 <= m[key] < 45
    assert 0 < m["landmark_nme"] < 1
    assert m["flicker_pairs"] == MAN_FRAMES - len(PASSED) - 1 - 1  # a gap splits the run of kept frames
    assert 0 < m["flicker_ratio"] < 10
    assert 0 < m["sharpness_ratio"] < 0.5  # 30 iterations: a blur, and the metric says so


def test_reconstruction_on_held_out_faces(evaluated, swap):
    m, _ = evaluated
    for side in ("a", "b"):
        held = sum(len(e["holdout_indices"]) for e in read_json(swap["model"] / "manifest.json")["facesets"][side])
        assert m[f"recon_{side}_faces"] == min(held, 64) > 0
        assert math.isfinite(m[f"recon_{side}_psnr"]) and math.isfinite(m[f"recon_{side}_psnr_masked"])
        assert 0 < m[f"recon_{side}_ssim"] <= 1 and 0 < m[f"recon_{side}_ssim_masked"] <= 1


def test_identity_conversion_is_neutral(swap):
    """Output == original: no flicker added, same pose and landmarks, same identity."""
    m, faces = evaluate_swap(swap["original"], FrameFiles(swap["original"]), swap["alignments"], swap["model"],
                             swap["a"], swap["b"], {"swap_faces": 4, "reference_faces": 4, "holdout_faces": 2})
    assert m["flicker_ratio"] == 1.0
    assert m["pose_yaw_diff"] == m["pose_pitch_diff"] == m["pose_roll_diff"] == 0
    assert m["landmark_nme"] == 0
    assert m["id_retrieval"] == m["id_retrieval_original"] and m["id_distance_b"] == m["id_distance_b_original"]
    assert round(m["frames_passed_psnr"]) == 148 and len(faces) == 4  # identical
    assert m["sharpness_ratio"] == 1.0


class Softened:
    """The original frames shrunk by ``factor`` and scaled back: the same face, less detail."""

    def __init__(self, paths, factor: float) -> None:
        self.frames, self.factor = FrameFiles(paths), factor

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> np.ndarray:
        image = self.frames[index]
        h, w = image.shape[:2]
        small = cv2.resize(image, (round(w / self.factor), round(h / self.factor)),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_sharpness_sees_blur_that_identity_does_not(swap):
    """The same man, softened: identity and pose stay, the sharpness ratio falls with
    the detail lost (a blur cannot pass it)."""
    ratios = {}
    for factor in (2.0, 3.0):
        m, _ = evaluate_swap(swap["original"], Softened(swap["original"], factor), swap["alignments"],
                             swap["model"], swap["a"], swap["b"],
                             {"swap_faces": 6, "reference_faces": 4, "holdout_faces": 2})
        assert m["id_retrieval"] == 0 and m["landmark_nme"] < 0.1  # still the man, same expression
        ratios[factor] = m["sharpness_ratio"]
    assert 0.05 < ratios[3.0] < ratios[2.0] < 0.5, ratios


def test_summarize(evaluated, tmp_path):
    metrics, _ = evaluated
    write_json(tmp_path / "one.json", metrics)
    write_json(tmp_path / "two.json", metrics | {"flicker_ratio": None, "recon_b_faces": 2})
    settings = {"woman_on_man/man": {"model": "m", "convert": {"occlusion": ["hands", "reconstruction"]}},
                "woman_on_man/man2": {"model": "m", "convert": {"occlusion": []}}}
    table = summarize({"woman_on_man/man": tmp_path / "one.json", "woman_on_man/man2": tmp_path / "two.json"},
                      settings)
    assert list(table[["swap", "video"]].itertuples(index=False, name=None)) == [
        ("woman_on_man", "man"), ("woman_on_man", "man2")]
    assert table["convert.occlusion"].tolist() == ["[hands, reconstruction]", "[]"]
    assert set(METRICS) <= set(table.columns)
    # quality first (held-out reconstruction, sharpness, identity), the settings last
    assert table.columns[2:2 + len(HEADLINE)].tolist() == list(HEADLINE)
    assert table.columns[2 + len(HEADLINE)] == "few_faces" and table.columns[-1] == "convert.occlusion"
    assert table["few_faces"][0] == " ".join(f"{c}={metrics[c]}" for c in FACE_COUNTS if metrics[c] < 8)
    assert "recon_b_faces=2" in table["few_faces"][1].split()
    assert table["frames_total"].tolist() == [MAN_FRAMES, MAN_FRAMES] and np.isnan(table["flicker_ratio"][1])
    assert summarize({}).columns.tolist() == ["swap", "video"]


def _green(image: np.ndarray) -> int:
    """Pixels of a BGR image that are clearly green (the mask outline)."""
    b, g, r = (image[..., k].astype(int) for k in range(3))
    return int(((g > 150) & (g > r + 80) & (g > b + 80)).sum())


def test_before_after_strip(swap, tmp_path):
    """Before | after pairs; the final mask's outline (from convert) on the before half only."""
    assert len(swap["outlines"]) == MAN_FRAMES - len(PASSED)
    before_after_strip(swap["original"], swap["output"], swap["alignments"], tmp_path / "strip.jpg",
                       swap["outlines"], n=4)
    strip = cv2.imread(str(tmp_path / "strip.jpg"))
    assert strip is not None and strip.shape == (2 * 232, 3 * 458, 3)  # 2 rows of 3 pairs, 224 px tiles
    before, after = strip[4:228, 4:228].astype(int), strip[4:228, 230:454].astype(int)
    assert np.abs(before - after).mean() > 2  # the face was swapped
    assert _green(strip[4:228, 4:228]) > 200 and _green(strip[4:228, 230:454]) < 20
    before_after_strip(swap["original"], swap["output"], swap["alignments"], tmp_path / "plain.jpg", n=4)
    assert _green(cv2.imread(str(tmp_path / "plain.jpg"))[4:228, 4:228]) < 20
    none = swap["alignments"].assign(keep=False)
    before_after_strip(swap["original"], FrameFiles(swap["original"]), none, tmp_path / "empty.jpg")
    assert cv2.imread(str(tmp_path / "empty.jpg")) is not None
    assert not list(tmp_path.glob(".*tmp*"))
    with pytest.raises(ValueError, match="35 original frames"):  # one frame short of the output
        before_after_strip(swap["original"][:-1], swap["output"], none, tmp_path / "short.jpg")


def test_video_frames_by_index(demo, tmp_path):
    """Frames read from the video by index are the frames split decodes, in any order."""
    clip = demo / "single_face.mp4"
    split(clip, tmp_path / "f", tmp_path / "p.json", cfg={"format": "png"})
    files = list_frames(tmp_path / "f")
    with VideoFrames(clip) as frames:
        assert len(frames) == len(files) == 72
        for i in (0, 1, 1, 40, 71, 5, 4, 4, 6):  # forward, cached, backwards (restarts)
            image = frames[i]
            assert image.shape == (360, 640, 3) and image.dtype == np.uint8
            assert np.array_equal(image, read_frame(files[i])), i
        with pytest.raises(VideoError, match="single_face.mp4: no frame 72; it has 72 frames"):
            frames[72]
        assert np.array_equal(frames[3], read_frame(files[3]))  # usable after the error

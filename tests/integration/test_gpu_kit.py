"""The GPU kit (benchmarks/gpu) end to end on the CPU: a kit made of the demo
faces, its run on a tiny time budget, and the evaluation of what it returns.
(The check in the GPU image's own Python 3.12 environment is in docs/gpu.md.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from swapflow.faceset import load_faceset
from swapflow.frames import read_frame

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))
from evaluate import evaluate_preset  # noqa: E402
from kit import FACESETS, TARGET, pack_faceset, unpack_faceset  # noqa: E402


def test_packed_faceset_comes_back(woman, tmp_path):
    pack_faceset(woman.faceset, tmp_path / "woman.npz")
    back = load_faceset(unpack_faceset(tmp_path / "woman.npz", tmp_path / "woman"))
    before = load_faceset(woman.faceset)
    raw = sum(f.stat().st_size for f in woman.faceset.glob("*.npy"))
    assert (tmp_path / "woman.npz").stat().st_size < raw / 10
    assert np.abs(back.faces.astype(int) - before.faces).mean() < 2  # JPEG quality 95
    assert np.array_equal(back.masks, before.masks) and np.array_equal(back.landmarks, before.landmarks)
    pd.testing.assert_frame_equal(back.index, before.index)


@pytest.fixture(scope="module")
def returned(woman, man, tmp_path_factory) -> Path:
    """The kit of the woman's and the man's faces, run on the CPU: lite only, 300 iterations of training (enough for a face that dlib fits; counted, not timed)."""
    root = tmp_path_factory.mktemp("kit")
    kit, out = root / "kit", root / "out"
    (kit / FACESETS).mkdir(parents=True)
    pack_faceset(woman.faceset, kit / FACESETS / "woman.npz")
    pack_faceset(man.faceset, kit / FACESETS / "man.npz")
    (kit / TARGET / "frames").mkdir(parents=True)
    for frame in man.frames:
        shutil.copy(frame, kit / TARGET / "frames")
    man.alignments.to_parquet(kit / TARGET / "alignments.parquet")
    env = os.environ | {"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'benchmarks' / 'gpu'}"}
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu" / "run.py"), "--kit", str(kit),
                    "--out", str(out), "--presets", "lite", "--iterations", "300", "--speed-iterations", "2",
                    "--warmup", "1", "--variants", "fp32", "channels_last", "fp32+ddp", "--beside", "1"],
                   check=True, env=env, capture_output=True)
    return out


def test_kit_run_returns_speeds_and_swapped_frames(returned, man):
    results = json.loads((returned / "results.json").read_text())
    lite = results["presets"]["lite"]
    assert set(lite["variants"]) == {"fp32", "channels_last", "fp32+ddp"}
    assert lite["variants"]["fp32"]["ratio_to_fp32"] == 1.0
    # the same training in a DistributedDataParallel group of one, against plain
    assert lite["variants"]["fp32+ddp"]["ratio_to_plain"] > 0
    assert all(v["samples_per_s"] > 0 for v in lite["variants"].values())
    assert lite["training"]["iterations"] >= 1 and lite["training"]["variant"] in lite["variants"]
    # the fastest variant alone and beside one busy process, each against alone (speeds not asserted)
    assert set(lite["beside"]) == {"0", "1"} and lite["beside"]["0"]["of_alone"] == 1.0
    assert lite["beside"]["1"]["samples_per_s"] > 0 and results["cores"] >= 1
    with tarfile.open(returned / "lite.tar") as tar:
        names = tar.getnames()
        assert {"preview.jpg", "loss.png", "losses.csv", "manifest.json"} <= set(names)
        frames = sorted(n for n in names if n.startswith("frames/"))
        assert [Path(n).name for n in frames] == [f.name for f in man.frames]  # one face each
        tar.extract(frames[0], returned / "x", filter="data")
    swapped, original = read_frame(returned / "x" / frames[0]), read_frame(man.frames[0])
    row = man.alignments.iloc[0]
    box = (slice(int(row.y0), int(row.y1)), slice(int(row.x0), int(row.x1)))
    assert np.abs(swapped[box].astype(int) - original[box]).mean() > 3  # the face was replaced


def test_kit_evaluation_measures_the_swap(returned, woman, man, tmp_path):
    """evaluate.py reads the returned frames with the evaluate rule's frame metrics,
    laid out as the demo project that prepare.py extracts."""
    results = tmp_path / "results"
    (results / "frames").mkdir(parents=True)
    shutil.copytree(man.frames[0].parent, results / "frames" / "man",
                    ignore=lambda d, names: [n for n in names if Path(d, n) not in man.frames])
    (results / "align").mkdir()
    man.alignments.to_parquet(results / "align" / "man.parquet")
    (results / "faceset").mkdir()
    for name, extracted in (("woman", woman), ("man", man)):
        (results / "faceset" / name).symlink_to(extracted.faceset)
    shutil.copy(returned / "lite.tar", tmp_path / "lite.tar")
    metrics = evaluate_preset(tmp_path / "lite.tar", tmp_path)
    assert metrics["id_faces"] > 0 and 0 < metrics["sharpness_ratio"] < 1.5
    assert (tmp_path / "lite" / "strip.jpg").stat().st_size > 0

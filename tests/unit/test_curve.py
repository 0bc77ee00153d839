"""The learning curve, continuing a shorter run, and the rule that stops ``iterations: auto``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from swapflow.evaluate import reconstruction
from swapflow.io import read_json
from swapflow.model_folder import holdout
from swapflow.train.config import compose_config
from swapflow.train.model_io import load_model
from swapflow.train.trainer import train
from swapflow.train.curve import stop_reason
from tests.conftest import TRAIN_CONFIG

SHORT = ["log_every_s=0", "batch_size=4", "curve.every=5", "curve.holdout_faces=8", "curve.swap_faces=2"]



def _train(facesets, root: Path, name: str, overrides: list[str]) -> Path:
    """Train into ``root/models/name`` with its checkpoints in ``root/checkpoints/name``
    (the workflow's layout: checkpoints of other runs beside each other)."""
    cfg = compose_config(TRAIN_CONFIG, "lite", SHORT + overrides)
    return train(cfg, [facesets[0]], [facesets[1]], root / "models" / name, root / "checkpoints" / name,
                 identities=("woman", "man"), threads=2)


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(model_dir / "model.pt", weights_only=True)["state_dict"]


def _same_weights(one: Path, two: Path) -> bool:
    a, b = _weights(one), _weights(two)
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_curve_points_are_evaluate_figures(facesets, tmp_path):
    """A point every curve.every iterations from 0 and one at the end; its
    reconstruction figures are the ones evaluate gives for the same model and faces."""
    out = _train(facesets, tmp_path, "run", ["iterations=12"])
    curve = pd.read_csv(out / "curve.tsv", sep="\t")
    assert list(curve["iteration"]) == [0, 5, 10, 12]
    assert (out / "curve.png").stat().st_size > 0
    model, _ = load_model(out)
    again = reconstruction(model, [facesets[0]], holdout(out, "a", [facesets[0]]), "a", 8)
    for key, value in again.items():
        assert curve[key].iloc[-1] == pytest.approx(value, abs=1e-9), key
    assert curve["swap_faces"].iloc[-1] == 2 and curve["swap_distance_a"].notna().all()
    # an untrained model draws no face: the held-out figure must rise
    assert curve["recon_a_psnr_masked"].iloc[-1] > curve["recon_a_psnr_masked"].iloc[0]
    manifest = read_json(out / "manifest.json")
    assert manifest["stopped"] == "reached iterations (12)" and manifest["continued_from"] is None


def test_a_longer_run_continues_a_shorter_one(facesets, tmp_path):
    """Constant rate: 12 then 15 iterations give the weights and curve of 15 in one
    go (the short run's end point, off the curve's grid, is not carried on), and
    the 12-iteration model stays as it was."""
    constant = ["lr_schedule=constant"]
    short = _train(facesets, tmp_path / "grow", "short", constant + ["iterations=12"])
    before = (short / "model.pt").read_bytes()
    longer = _train(facesets, tmp_path / "grow", "longer", constant + ["iterations=15"])
    straight = _train(facesets, tmp_path / "straight", "longer", constant + ["iterations=15"])
    assert read_json(longer / "manifest.json")["continued_from"].endswith("short/checkpoint.pt")
    assert _same_weights(longer, straight)
    pd.testing.assert_frame_equal(pd.read_csv(longer / "curve.tsv", sep="\t"),
                                  pd.read_csv(straight / "curve.tsv", sep="\t"))
    assert (short / "model.pt").read_bytes() == before
    assert len(pd.read_csv(longer / "losses.csv")) == 15


def _record(root: Path, name: str, iteration: int) -> None:
    """Make the checkpoint record of run ``name`` say ``iteration`` (edited, or
    left behind by a kill between writing the weights and the record)."""
    info = root / "checkpoints" / name / "checkpoint.json"
    info.write_text(json.dumps(json.loads(info.read_text()) | {"iteration": iteration}))


def test_a_checkpoint_whose_record_lies_is_checked_by_its_weights(facesets, tmp_path, caplog):
    """A record saying 9 beside weights of 12 does not make a 10-iteration run go
    on from 12 (past its end): it goes on from the honest checkpoint beside it
    (at 5), and without one trains from the start; each time it says why. A
    record behind its own weights (a kill between the two files) resumes from
    the weights. Each result equals a run straight through."""
    constant = ["lr_schedule=constant", "checkpoint_every=5"]
    root = tmp_path / "grow"
    _train(facesets, root, "honest", constant + ["iterations=5"])
    _train(facesets, root, "liar", constant + ["iterations=12"])
    _record(root, "liar", 9)
    straight = {n: _train(facesets, tmp_path / "straight", str(n), constant + [f"iterations={n}"]) for n in (10, 14)}
    with caplog.at_level("WARNING", logger="swapflow.train"):
        longer = _train(facesets, root, "ten", constant + ["iterations=10"])
    liar = root / "checkpoints" / "liar" / "checkpoint.pt"
    assert f"checkpoint {liar} holds iteration 12 (its record says 9), past this run's 10: not used" in caplog.text
    manifest = read_json(longer / "manifest.json")
    assert manifest["continued_from"].endswith("honest/checkpoint.pt") and manifest["iterations"] == 10
    assert _same_weights(longer, straight[10])
    assert read_json(root / "checkpoints" / "ten" / "checkpoint.json")["iteration"] == 10

    (root / "checkpoints" / "honest" / "checkpoint.pt").unlink()
    (root / "checkpoints" / "ten" / "checkpoint.pt").unlink()
    caplog.clear()
    with caplog.at_level("WARNING", logger="swapflow.train"):
        fresh = _train(facesets, root, "ten", constant + ["iterations=10"])
    assert "no checkpoint this run can go on from: training from the start" in caplog.text
    assert read_json(fresh / "manifest.json")["continued_from"] is None and _same_weights(fresh, straight[10])

    (root / "checkpoints" / "ten" / "checkpoint.pt").unlink()
    _record(root, "liar", 5)  # its own record behind its weights: resumed by the weights
    caplog.clear()
    with caplog.at_level("INFO", logger="swapflow.train"):
        resumed = _train(facesets, root, "liar", constant + ["iterations=14"])
    assert f"checkpoint {liar}: its record says iteration 5, its weights 12; going by the weights" in caplog.text
    assert _same_weights(resumed, straight[14])


def test_a_schedule_makes_the_length_part_of_the_training(facesets, tmp_path):
    """Cosine: the rate at every step depends on the run's length, so a longer run
    trains from the start (it equals a fresh run of its length)."""
    _train(facesets, tmp_path / "grow", "short", ["lr_schedule=cosine", "iterations=10"])
    longer = _train(facesets, tmp_path / "grow", "longer", ["lr_schedule=cosine", "iterations=15"])
    straight = _train(facesets, tmp_path / "straight", "longer", ["lr_schedule=cosine", "iterations=15"])
    assert read_json(longer / "manifest.json")["continued_from"] is None
    assert _same_weights(longer, straight)


def _curve(scores: list[float]) -> list[dict[str, float]]:
    return [{"iteration": 10 * i, "recon_a_psnr_masked": s - 1, "recon_b_psnr_masked": s + 1}
            for i, s in enumerate(scores)]


def test_stop_rule_on_a_synthetic_curve():
    rising = [10.0, 12.0, 13.0, 13.5, 13.8]
    assert stop_reason(_curve(rising), window=2, min_delta=0.5) is None  # best rose 0.8 over the last 2
    assert stop_reason(_curve(rising), window=2, min_delta=1.0).startswith("plateau: the best held-out "
                                                                           "masked PSNR rose 0.800 dB")
    # a dip and a recovery below the old best: no rise at all
    assert "rose 0.000 dB" in stop_reason(_curve([10.0, 14.0, 13.0, 13.9]), window=2, min_delta=0.1)
    assert stop_reason(_curve([10.0, 10.0]), window=2, min_delta=0.1) is None  # not enough points yet


AUTO = ["lr_schedule=constant", "iterations=auto", "stop.window=2", "stop.min_delta=0.3",
        "stop.max_iterations=200", "checkpoint_every=5"]


def test_auto_stops_at_the_same_iteration_when_resumed(facesets, tmp_path):
    """The same seed stops at the same iteration; a run cut short (here by a lower
    maximum) and continued stops there too, with the same curve and weights."""
    straight = _train(facesets, tmp_path / "a", "auto", AUTO)
    manifest = read_json(straight / "manifest.json")
    stopped = manifest["iterations"]
    assert 10 <= stopped < 200 and manifest["stopped"].startswith("plateau")
    _train(facesets, tmp_path / "b", "cut", AUTO + [f"stop.max_iterations={stopped - 5}"])
    resumed = _train(facesets, tmp_path / "b", "auto", AUTO)
    assert read_json(resumed / "manifest.json")["iterations"] == stopped
    assert _same_weights(resumed, straight)
    pd.testing.assert_frame_equal(pd.read_csv(resumed / "curve.tsv", sep="\t"),
                                  pd.read_csv(straight / "curve.tsv", sep="\t"))


def test_a_curve_without_dlib(facesets, tmp_path, monkeypatch):
    """The GPU image has no dlib: the curve keeps reconstruction and sharpness."""
    monkeypatch.setitem(sys.modules, "swapflow.identity", None)  # importing it raises ImportError
    curve = pd.read_csv(_train(facesets, tmp_path, "run", ["iterations=5"]) / "curve.tsv", sep="\t")
    assert curve["swap_distance_a"].isna().all() and curve["swap_sharpness"].notna().all()
    assert curve["recon_a_psnr_masked"].notna().all()

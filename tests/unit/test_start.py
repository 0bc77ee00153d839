"""A training that starts from another model's weights, on the demo facesets: what it
copies (the encoder, the decoders of the identities both have, by name), what it
keeps fresh, the frozen encoder, exact continuations, and a mismatch in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import torch

from swapflow.io import read_json
from swapflow.schema import ConfigError
from swapflow.train.cli import main
from swapflow.train.config import compose_config
from swapflow.train.start import Start
from swapflow.train.trainer import Trainer, train
from tests.conftest import TRAIN_CONFIG

# constant rate: runs of another length then share their checkpoints
SMALL = ["log_every_s=0", "batch_size=2", "lr_schedule=constant", "curve.holdout_faces=16", "curve.swap_faces=0",
         "checkpoint_every=100"]


def _run(facesets: tuple[Path, Path], folder: Path, identities: tuple[str, str], more: list[str],
         start: Start | None = None) -> Path:
    """Train on facesets (woman, man) in the order of ``identities`` into ``folder``/model."""
    by_name = dict(zip(("woman", "man"), facesets))
    cfg = compose_config(TRAIN_CONFIG, "lite", SMALL + more)
    return train(cfg, [by_name[identities[0]]], [by_name[identities[1]]], folder / "model", folder / "ckpt",
                 identities=identities, threads=2, start=start)


def _state(model_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(model_dir / "model.pt", weights_only=True)["state_dict"]


def _part(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _same(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> bool:
    return x.keys() == y.keys() and all(torch.equal(v, y[k]) for k, v in x.items())


@pytest.fixture(scope="module")
def source(facesets, tmp_path_factory) -> Path:
    """A model of the woman (A) onto the man (B), 30 iterations."""
    return _run(facesets, tmp_path_factory.mktemp("source"), ("woman", "man"), ["iterations=30"])


def test_a_start_copies_the_encoder_and_the_decoders_of_shared_identities(facesets, source, tmp_path):
    """Roles swapped (the man onto the woman): decoder A takes the source's B and B its A;
    an identity the source lacks keeps the decoder a fresh model of the same seed has."""
    theirs = _state(source)
    cfg = compose_config(TRAIN_CONFIG, "lite", SMALL + ["iterations=1"])
    swapped = Trainer(cfg, [facesets[1]], [facesets[0]], tmp_path / "a", ("man", "woman"), start=Start(source))
    Start(source).apply(swapped.model, cfg, swapped.identities)
    mine = swapped.model.state_dict()
    assert _same(_part(mine, "encoder."), _part(theirs, "encoder."))
    assert _same(_part(mine, "decoders.a."), _part(theirs, "decoders.b."))
    assert _same(_part(mine, "decoders.b."), _part(theirs, "decoders.a."))

    fresh = Trainer(cfg, [facesets[1]], [facesets[0]], tmp_path / "b", ("man", "carol")).model.state_dict()
    new = Trainer(cfg, [facesets[1]], [facesets[0]], tmp_path / "c", ("man", "carol"), start=Start(source))
    Start(source).apply(new.model, cfg, new.identities)
    mine = new.model.state_dict()
    assert _same(_part(mine, "decoders.a."), _part(theirs, "decoders.b."))
    assert _same(_part(mine, "decoders.b."), _part(fresh, "decoders.b."))
    assert not _same(_part(fresh, "decoders.b."), _part(theirs, "decoders.a."))


def test_a_started_model_reconstructs_at_iteration_0_as_its_source_did(facesets, source, tmp_path):
    """The learning curve's first point (iteration 0, before any step) of the man onto the
    woman started from the source measures what the source's last point measured, sides
    swapped: the same held-out faces through the same weights. The manifest says so."""
    out = _run(facesets, tmp_path / "run", ("man", "woman"), ["iterations=2"], Start(source))
    first, last = pd.read_csv(out / "curve.tsv", sep="\t").iloc[0], pd.read_csv(source / "curve.tsv", sep="\t").iloc[-1]
    assert first["iteration"] == 0
    for mine, theirs in (("a", "b"), ("b", "a")):
        assert first[f"recon_{mine}_psnr_masked"] == pytest.approx(last[f"recon_{theirs}_psnr_masked"], abs=1e-4)
    assert first["recon_a_psnr_masked"] > 15  # not a fresh model's
    assert read_json(out / "manifest.json")["started_from"] == {
        "model": str(source), "weights_sha256": hashlib.sha256((source / "model.pt").read_bytes()).hexdigest(),
        "decoders": {"a": "b", "b": "a"}, "freeze_encoder": 0}


def test_a_frozen_encoder_stays_then_learns_and_runs_continue_exactly(facesets, source, tmp_path):
    """With the encoder frozen for 3 iterations: after 3 it is the source's and the decoders
    moved; after 5 it moved too. 5 iterations straight equal 3 then 2 more continued from
    the shorter run's checkpoint (which does not copy the source again). A from-nothing
    checkpoint of the same config is not one a started run continues."""
    start = Start(source, freeze_encoder=3)
    three = _run(facesets, tmp_path / "three", ("woman", "man"), ["iterations=3"], start)
    theirs, mine = _state(source), _state(three)
    assert _same(_part(mine, "encoder."), _part(theirs, "encoder."))
    assert not _same(_part(mine, "decoders.a."), _part(theirs, "decoders.a."))

    _run(facesets, tmp_path / "nothing", ("woman", "man"), ["iterations=2"])
    straight = _run(facesets, tmp_path / "straight", ("woman", "man"), ["iterations=5"], start)
    continued = _run(facesets, tmp_path / "three", ("woman", "man"), ["iterations=5"], start)
    assert not _same(_part(_state(straight), "encoder."), _part(theirs, "encoder."))
    assert _same(_state(straight), _state(continued))
    assert read_json(straight / "manifest.json")["continued_from"] is None
    assert read_json(continued / "manifest.json")["started_from"]["freeze_encoder"] == 3


def test_a_source_of_another_architecture_says_so_in_one_line(facesets, source, tmp_path, capsys):
    with pytest.raises(ConfigError, match=rf"^model {source} \(original, 64 px\) has another architecture than "
                                          r"this lite model \(original, 64 px\): model\.dense 128 vs 96$"):
        _run(facesets, tmp_path / "run", ("woman", "man"), ["iterations=1", "model.dense=96"], Start(source))
    args = ["--faceset-a", str(facesets[0]), "--faceset-b", str(facesets[1]), "--out", str(tmp_path / "cli"),
            "--config-dir", str(TRAIN_CONFIG), "--start-from", str(source), "iterations=1", "model.decoder=[32,16,8]"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.decoder [64, 32, 16] vs [32, 16, 8]" in err[0], err

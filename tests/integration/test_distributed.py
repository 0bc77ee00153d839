"""Data-parallel training: two real processes under torchrun (gloo on the cpu),
against one process on the same batches."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from swapflow.io import read_json
from swapflow.train.config import compose_config
from swapflow.train.trainer import train
from tests.conftest import TRAIN_CONFIG

SETTINGS = ["batch_size=8", "log_every_s=0"]


def _launch_command(facesets, tmp: Path, overrides: list[str]) -> list[str]:
    """A python process that runs swapflow.train.distributed.launch (as the train
    rule does) with two processes of one thread, exiting with its status."""
    code = ("import sys; from pathlib import Path; from swapflow.train.config import compose_config; "
            "from swapflow.train.distributed import launch; "
            f"cfg = compose_config({str(TRAIN_CONFIG)!r}, 'lite', {SETTINGS + overrides!r}); "
            f"sys.exit(launch(cfg, [{str(facesets[0])!r}], [{str(facesets[1])!r}], {str(tmp / 'model')!r}, "
            f"{str(tmp / 'ckpt')!r}, ('woman', 'man'), 2, 1, Path({str(tmp / 'log.txt')!r})))")
    return [sys.executable, "-c", code]


def test_two_processes_train_what_one_process_does(facesets, tmp_path):
    one = tmp_path / "one"
    train(compose_config(TRAIN_CONFIG, "lite", SETTINGS + ["iterations=12"]), [facesets[0]], [facesets[1]],
          one / "model", one / "ckpt", identities=("woman", "man"), threads=2)
    two = tmp_path / "two"
    two.mkdir()
    subprocess.run(_launch_command(facesets, two, ["iterations=12"]), check=True, timeout=300)
    log = (two / "log.txt").read_text()
    for rank, faces in ((0, "0..3"), (1, "4..7")):
        assert f"[process {rank} of 2] training lite" in log
        assert f"process {rank} of 2: faces {faces} of each batch of 8" in log
        assert f"[process {rank} of 2] weights identical in all 2 processes at iteration 12" in log
    assert read_json(two / "model" / "manifest.json")["processes"] == 2
    assert read_json(one / "model" / "manifest.json")["processes"] == 1
    a, b = (pd.read_csv(d / "model" / "losses.csv") for d in (one, two))
    assert list(b["iteration"]) == list(range(1, 13))
    # the same faces and augmentations: the losses differ only by float rounding
    # and by each process normalising its loss by its own share's weights
    for side in "ab":
        rel = ((a[f"loss_{side}"] - b[f"loss_{side}"]).abs() / a[f"loss_{side}"]).max()
        assert rel < 0.02, (side, rel)
    assert b["loss_a"].iloc[-1] < b["loss_a"].iloc[0]


def test_sigterm_stops_both_processes_at_one_step_and_they_resume(facesets, tmp_path):
    log = tmp_path / "log.txt"
    # a constant rate: the resumed run asks for fewer iterations (with a schedule the
    # length is part of the training, and another length starts afresh)
    opts = ["lr_schedule=constant", "checkpoint_every=1000"]
    proc = subprocess.Popen(_launch_command(facesets, tmp_path, opts + ["iterations=1000"]))
    deadline = time.time() + 120
    while not re.search(r"\[process 0 of 2\] it [5-9]\d*/", log.read_text() if log.exists() else "") \
            and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    text = log.read_text()
    stops = re.findall(r"stopped by SIGTERM at iteration (\d+)", text)
    assert len(stops) == 2 and stops[0] == stops[1], text[-3000:]
    done = int(stops[0])
    assert len(re.findall(rf"checkpoint at iteration {done} ->", text)) == 1, "one process writes it"
    assert not (tmp_path / "model").exists()
    stopped = pd.read_csv(tmp_path / "ckpt" / "losses.csv")
    assert list(stopped["iteration"]) == list(range(1, done + 1))

    log.unlink()
    subprocess.run(_launch_command(facesets, tmp_path, opts + [f"iterations={done + 3}"]), check=True, timeout=300)
    text = log.read_text()
    for rank in (0, 1):
        assert f"[process {rank} of 2] resumed from {tmp_path / 'ckpt' / 'checkpoint.pt'} at iteration {done}" in text
    losses = pd.read_csv(tmp_path / "model" / "losses.csv")
    assert list(losses["iteration"]) == list(range(1, done + 4))
    pd.testing.assert_frame_equal(losses.iloc[:done], stopped)

"""The README's quick variant, as a new user runs it first: the demo end to end
with config/quick.yaml, then the report with the same --configfile."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd

from swapflow.io import read_json
from swapflow.video.probe import Probe
from tests.conftest import REPO, SNAKEFILE, SNAKEMAKE
from tests.videos import describe


def snakemake(project, *args: str) -> str:
    """The README's command in a project folder holding the repository's config/."""
    res = subprocess.run([SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(project), "--cores", "2",
                          "--configfile", "config/quick.yaml", *args], capture_output=True, text=True,
                         env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert res.returncode == 0, f"snakemake {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def test_quick_variant_and_its_report(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO / "config", project / "config")
    out = snakemake(project)
    (model,) = (project / "results/model").iterdir()
    manifest = read_json(model / "manifest.json")
    assert manifest["iterations"] == 600
    # the whole demo ran: the swapped clip has the man's frames, metrics and a report
    probe = Probe.load(project / "results/probe/man.json")
    assert describe(project / "results/swap/woman_on_man/man.mp4")["frames"] == probe.frames
    summary = pd.read_csv(project / "results/evaluate/summary.tsv", sep="\t").iloc[0]
    curve = pd.read_csv(model / "curve.tsv", sep="\t")
    assert curve["iteration"].tolist() == [0, 250, 500, 600]
    # it learned: held-out faces of A rebuilt far better than by the untrained model
    assert curve["recon_a_psnr_masked"].iloc[-1] > curve["recon_a_psnr_masked"].iloc[0] + 5
    assert summary["recon_a_psnr_masked"] > curve["recon_a_psnr_masked"].iloc[0] + 5
    assert f"train/{model.name}: it 600/600" in out
    snakemake(project, "--report", "report.html")
    assert "woman_on_man" in (project / "report.html").read_text()

"""Fixtures shared by all tests: the real demo clips and a helper to run snakemake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from swapflow import demo

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "tests" / "configs"
TRAIN_CONFIG = REPO / "config"  # the training config (train.yaml, the presets in model/)
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# where the Snakemake workflow catalog and snakedeploy look; `snakemake` run from the
# repository root finds it by itself (and the workflow profile in profiles/default)
SNAKEFILE = REPO / "workflow" / "Snakefile"


# the demo clips split and extracted once a session (tests/faces.py), for every tier
pytest_plugins = ["tests.faces"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tiers: tests/unit calls the library in this process; tests/integration runs
    other programs on it (torchrun, the GPU kit's scripts); tests/workflow runs real
    snakemake, tests/cluster on a real SLURM. All but unit are ``slow``: ``pytest -m
    "not slow"`` is the quick subset to run while working."""
    for item in items:
        if {"integration", "workflow", "cluster"} & set(item.path.relative_to(REPO / "tests").parts[:1]):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo clips, fetched once into the repo's resources/demo (as the demo rule does)."""
    dest = REPO / "resources" / "demo"
    demo.fetch(dest)
    return dest


def run_snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real workflow on ``workdir/config.yaml`` with ``workdir`` as working directory."""
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return res


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """The rules ``snakemake -n`` would run, with their job counts."""
    res = run_snakemake(workdir, *args, "-n", "--quiet", "rules")
    counts: dict[str, int] = {}
    for line in (res.stdout + res.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


def load_config(name: str) -> dict:
    """tests/configs/<name>.yaml as run from the repository root: its relative video
    paths made absolute, so a test may run it in any folder."""
    demo.fetch(REPO / "resources" / "demo")
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    config["videos"] = {video: str(REPO / path) for video, path in config["videos"].items()}
    return config


def project(workdir: Path, name: str) -> dict:
    """tests/configs/<name>.yaml in a new project folder ``workdir``, as a person runs
    it from the repository root: the demo files are copied into its resources/demo
    (so a test may touch them). Returns the config, also written to config.yaml."""
    demo.fetch(REPO / "resources" / "demo")
    shutil.copytree(REPO / "resources" / "demo", workdir / "resources" / "demo", dirs_exist_ok=True)
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    write_config(workdir, config)
    return config


def write_config(workdir: Path, config: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path

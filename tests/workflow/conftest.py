"""A finished short swap project shared by the swap and rerun tests."""

from __future__ import annotations

import shutil

import pytest
import yaml

from swapflow.frames import list_frames

from tests.conftest import CONFIGS, project, run_snakemake


def swap_config() -> dict:
    """tests/configs/swap.yaml: the woman's face onto the man's clip and onto the
    cartoon-then-face clip; 20 training iterations."""
    return yaml.safe_load((CONFIGS / "swap.yaml").read_text())


@pytest.fixture(scope="session")
def swapped(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("swap")
    project(workdir, "swap")
    res = run_snakemake(workdir)
    (workdir / "terminal.txt").write_text(res.stdout + res.stderr)  # what the user saw
    return workdir


@pytest.fixture(scope="session")
def converted(swapped, tmp_path_factory):
    """A copy of the finished project (times kept) with the converted frames that
    merge deleted made again and kept (``--notemp``): ``{video: [frame files]}``."""
    workdir = tmp_path_factory.mktemp("converted") / "project"
    shutil.copytree(swapped, workdir, symlinks=True)
    shards = sorted(p.relative_to(workdir) for p in workdir.glob("results/patches/w2m/*/*"))
    targets = [str(p).replace("patches", "convert", 1) for p in shards]
    run_snakemake(workdir, "--notemp", *targets)
    return {video: sorted((f for p in workdir.glob(f"results/convert/w2m/{video}/*")
                           for f in list_frames(p)), key=lambda f: f.name)
            for video in ("man", "noface")}

"""swapflow used as a Snakemake module by a project of its own, with the Snakefile
that `snakedeploy deploy-workflow` writes: the schema and the training presets
are the workflow's own (next to its Snakefile, or on the git host it is read
from), never looked up in the other project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, SNAKEMAKE, load_config, run_snakemake, write_config

# workflow/Snakefile of a project deployed by snakedeploy (its template, 2025)
DEPLOYED = """from snakemake.utils import min_version


min_version("6.10.0")


configfile: "config/config.yaml"


module swapflow:
    snakefile:
        {snakefile}
    config:
        config


use rule * from swapflow
"""


def deployed_project(folder: Path, snakefile: str) -> Path:
    """A project that uses swapflow as a module: workflow/Snakefile and
    config/config.yaml (tests/configs/short.yaml), no presets of its own."""
    (folder / "workflow").mkdir(parents=True)
    (folder / "workflow" / "Snakefile").write_text(DEPLOYED.format(snakefile=snakefile))
    write_config(folder / "config", load_config("short"))
    return folder


def run_project(folder: Path, *args: str, env: dict | None = None) -> str:
    """`snakemake` in the project folder, as its user runs it (finds workflow/Snakefile)."""
    res = subprocess.run([SNAKEMAKE, "--cores", "2", *args], cwd=folder, capture_output=True,
                         text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}))
    assert res.returncode == 0, f"snakemake {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def planned_models(out: str) -> set[str]:
    return set(re.findall(r"results/model/([\w.-]+)", out))


@pytest.fixture(scope="module")
def plain_models(tmp_path_factory) -> set[str]:
    """The models a plain run of the same config plans (named by the composed training config)."""
    workdir = tmp_path_factory.mktemp("plain")
    write_config(workdir, load_config("short"))
    res = run_snakemake(workdir, "-n")
    models = planned_models(res.stdout + res.stderr)
    assert len(models) == 1
    return models


def test_local_module(tmp_path, plain_models):
    project = deployed_project(tmp_path / "project", repr(str(REPO / "Snakefile")))
    # the dry run composes the training config from the workflow's own presets
    assert planned_models(run_project(project, "-n")) == plain_models
    run_project(project, "results/faceset/man.jpg")
    assert (project / "results/faceset/man.jpg").stat().st_size > 0
    assert (project / "logs/faceset/man.log").exists()
    assert not (project / "config" / "model").exists()


def test_module_from_a_git_host(tmp_path, plain_models):
    """`github("swapflow/swapflow", path="Snakefile", tag="v1")`, as snakedeploy writes
    it: Snakemake reads the workflow from its clone of the repository, which is made
    here beforehand from this working tree (no network)."""
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy2(REPO / "Snakefile", source / "Snakefile")
    for part in ("workflow", "config"):
        shutil.copytree(REPO / part, source / part)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(source)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1"], ["tag", "v1"]):
        subprocess.run([*git, *args], check=True)
    cache = tmp_path / "cache"
    clone = cache / "snakemake/snakemake/source-cache/snakemake-git-cache/github.com/swapflow"
    clone.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(clone / "swapflow")],
                   check=True)
    project = deployed_project(tmp_path / "project",
                               'github("swapflow/swapflow", path="Snakefile", tag="v1")')
    env = {"XDG_CACHE_HOME": str(cache)}
    assert planned_models(run_project(project, "-n", env=env)) == plain_models
    run_project(project, "results/probe/man.json", env=env)
    assert (project / "results/probe/man.json").stat().st_size > 0

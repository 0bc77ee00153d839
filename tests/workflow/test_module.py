"""swapflow used as a Snakemake module by a project of its own, deployed by
`snakedeploy deploy-workflow` as docs/module.md says, from a tagged release on a git
host (its URL redirected to a local copy: no network) and from a local clone:
the schema and the training presets are the workflow's own (next to its
Snakefile, or on the git host it is read from), never looked up in the other
project, and the workflow profile comes along."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import REPO, SNAKEMAKE, load_config, run_snakemake, write_config

SNAKEDEPLOY = str(Path(sys.executable).with_name("snakedeploy"))
TAG = f"v{version('swapflow')}"  # how releases are tagged (docs/module.md)
PROFILE_USED = "Using workflow specific profile profiles/default"


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


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A git repository of this working tree's workflow files, tagged as a release."""
    source = tmp_path_factory.mktemp("release") / "swapflow"
    source.mkdir()
    shutil.copy2(REPO / "LICENSE", source / "LICENSE")
    for part in ("workflow", "config", "profiles"):
        shutil.copytree(REPO / part, source / part, symlinks=True)  # as git keeps them
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(source)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "release"], ["tag", TAG]):
        subprocess.run([*git, *args], check=True)
    return source


def deploy(source: str, project: Path, *args: str, env: dict | None = None) -> None:
    subprocess.run([SNAKEDEPLOY, "deploy-workflow", source, str(project), *args], check=True,
                   capture_output=True, env=os.environ | (env or {}))


def use_config(project: Path) -> None:
    """The user's edit of the deployed config/config.yaml: here tests/configs/short.yaml."""
    write_config(project / "config", load_config("short"))


def test_deployed_from_a_release(tmp_path, release, plain_models):
    """`snakedeploy deploy-workflow https://github.com/<owner>/swapflow . --tag <tag>`:
    the project's Snakefile reads the workflow at that tag from the git host."""
    github = tmp_path / "github"
    subprocess.run(["git", "clone", "-q", "--bare", str(release), str(github / "swapflow/swapflow.git")], check=True)
    # git (snakedeploy's clone) and Snakemake's source cache find the release here
    cache = tmp_path / "cache"
    clone = cache / "snakemake/snakemake/source-cache/snakemake-git-cache/github.com/swapflow"
    clone.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(release), str(clone / "swapflow")], check=True)
    env = {"XDG_CACHE_HOME": str(cache), "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"url.{github.as_uri()}/.insteadOf", "GIT_CONFIG_VALUE_0": "https://github.com/"}
    project = tmp_path / "project"
    deploy("https://github.com/swapflow/swapflow", project, "--tag", TAG, env=env)
    assert f'github("swapflow/swapflow", path="workflow/Snakefile", tag="{TAG}")' in (project / "workflow/Snakefile").read_text()
    use_config(project)
    out = run_project(project, "-n", env=env)
    assert planned_models(out) == plain_models and PROFILE_USED in out
    run_project(project, "results/probe/man.json", env=env)
    assert (project / "results/probe/man.json").stat().st_size > 0


def doc_lines(starting: str) -> list[str]:
    """docs/module.md's command lines that start with ``starting``."""
    text = (REPO / "docs/module.md").read_text()
    return [line for line in text.splitlines() if line.startswith(starting)]


def test_deployed_from_a_local_clone(release, plain_models):
    """From a local clone (checked out at the tag: snakedeploy copies the folder as
    it is), snakedeploy writes the Snakefile's path relative to the clone; the
    commands of docs/module.md, run as written beside the clone, make it the clone's path."""
    project = release.parent / "project"
    project.mkdir()
    (deploy_line,) = [line for line in doc_lines(".venv/bin/snakedeploy") if "../swapflow" in line]
    (edit_line,) = doc_lines("sed -i")
    assert f"--tag {TAG}" in deploy_line
    for line in (deploy_line, edit_line):
        command = line.replace(".venv/bin/snakedeploy", SNAKEDEPLOY)
        subprocess.run(["bash", "-c", command], cwd=project, check=True, capture_output=True)
    assert f'"{release}/workflow/Snakefile"' in (project / "workflow/Snakefile").read_text()
    use_config(project)
    out = run_project(project, "-n")
    assert planned_models(out) == plain_models and PROFILE_USED in out
    run_project(project, "results/faceset/man.jpg")
    assert (project / "results/faceset/man.jpg").stat().st_size > 0
    assert (project / "logs/faceset/man.log").exists()
    # the presets are read from the workflow's own files, not the project's copy
    shutil.rmtree(project / "config/model")
    assert planned_models(run_project(project, "-n")) == plain_models

"""The README's snakemake commands, dry-run as a user runs them: in a folder
holding the repository's workflow/, config/ and profiles/, with the README's
my.yaml (its YAML blocks together) naming two clips, and the site profile
installed by the README's set-up line."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO, SNAKEMAKE
from tests.unit.test_docs import FENCE, readme_commands

SNAKEMAKE_COMMANDS = [c for c in readme_commands() if c.startswith(".venv/bin/snakemake ")]


def readme_config() -> dict:
    """my.yaml: the README's YAML blocks (the swap, the GPU recipe, the
    experiment) merged section by section, as a user adds them."""
    config: dict = {}
    for lang, body in FENCE.findall((REPO / "README.md").read_text()):
        if lang == "yaml":
            for key, value in yaml.safe_load(body).items():
                config[key] = (config.get(key) or {}) | value if isinstance(value, dict) else value
    return config


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory, demo_dir):
    """The repository as a user has it, with my.yaml and its clips (the demo's)."""
    folder = tmp_path_factory.mktemp("user") / "swapflow"
    for part in ("workflow", "config", "profiles"):
        shutil.copytree(REPO / part, folder / part, symlinks=True)
    config = readme_config()
    clips = [demo_dir / "WolfgangLanger_Pexels.mp4", demo_dir / "single_face.mp4"]
    for clip, path in zip(clips, config["videos"].values(), strict=True):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, folder / path)
    (folder / "my.yaml").write_text(yaml.safe_dump(config))
    shutil.copytree(demo_dir, folder / "resources/demo")
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An XDG_CONFIG_HOME with the site profile installed by the README's set-up line."""
    home = tmp_path_factory.mktemp("home")
    (setup,) = [line for line in (REPO / "README.md").read_text().splitlines()
                if line.startswith("mkdir -p") and "profiles/slurm" in line]
    subprocess.run(["bash", "-c", setup], cwd=REPO, check=True, env=os.environ | {"XDG_CONFIG_HOME": str(home)})
    return home


def dry_run(folder, command: str, home) -> tuple[str, dict[str, int]]:
    """The README's command with -n: its output and the jobs it plans per rule."""
    args = command.split()[1:]
    res = subprocess.run([SNAKEMAKE, *args, "-n"], cwd=folder, capture_output=True,
                         text=True, env=os.environ | {"XDG_CONFIG_HOME": str(home)})
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{command}:\n{out}"
    jobs = {parts[0]: int(parts[1]) for parts in map(str.split, out.splitlines())
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total"}
    return out, jobs


@pytest.mark.parametrize("command", SNAKEMAKE_COMMANDS)
def test_readme_command_plans(command, user_folder, home):
    """Each command plans what the README says it does (a target such as `curate`
    must stand before --configfile, which takes every word after it as a file)."""
    out, jobs = dry_run(user_folder, command, home)
    if " curate " in f"{command} ":
        assert {"faceset", "coverage"} <= set(jobs) and "train" not in jobs, jobs
    elif " experiments " in f"{command} ":
        # the README's colour grid: 2 x 2 points x 2 seeds, convert.color shares the models
        assert jobs["experiment"] == 1 and jobs["train"] == 4 and jobs["merge"] == 8, jobs
        assert "colour_color~rct_iterations~2000_seed~0" in (REPO / "README.md").read_text()
        assert "results/swap/colour_color~rct_iterations~2000_seed~0/bob.mp4" in out
    elif "my.yaml" in command:  # the swap and the experiment's points
        assert jobs["train"] == 5 and jobs["merge"] == 9, jobs
    else:  # the demo
        assert jobs["train"] == 1 and jobs["merge"] == 1, jobs
    if "--profile slurm" in command:
        assert "Using profiles slurm" in out

"""A finished short swap project shared by the swap and rerun tests."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import run_snakemake, write_config


def swap_config(demo_dir, **convert) -> dict:
    """The woman's face onto the man's clip (a copy inside the project, named by a
    relative path) and onto the cartoon-then-face clip; 20 training iterations."""
    return {
        "videos": {"woman": str(demo_dir / "WolfgangLanger_Pexels.mp4"),
                   "man": "man.mp4",
                   "noface": str(demo_dir / "noface_face.mov")},
        "identities": {"woman": {"videos": ["woman"]}, "man": {"videos": ["man"]}},
        "swaps": [{"name": "w2m", "face": "woman", "target": "man",
                   "videos": ["man", "noface"]}],
        "train": {"preset": "lite", "iterations": 20, "overrides": ["preview_every=10"]},
        "convert": convert,
        "evaluate": {"max_faces": 12, "reference_faces": 12, "holdout_faces": 12},
        "merge": {"preset": "ultrafast"},
    }


@pytest.fixture(scope="session")
def swapped(demo_dir, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("swap")
    shutil.copy(demo_dir / "single_face.mp4", workdir / "man.mp4")
    write_config(workdir, swap_config(demo_dir))
    run_snakemake(workdir)
    return workdir

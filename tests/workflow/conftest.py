"""A finished short swap project shared by the swap and rerun tests."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import CONFIGS, project, run_snakemake


def swap_config() -> dict:
    """tests/configs/swap.yaml: the woman's face onto the man's clip and onto the
    cartoon-then-face clip; 20 training iterations."""
    return yaml.safe_load((CONFIGS / "swap.yaml").read_text())


@pytest.fixture(scope="session")
def swapped(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("swap")
    project(workdir, "swap")
    run_snakemake(workdir)
    return workdir

"""Extraction in real snakemake runs: outputs, sharding, and what extraction settings rerun."""

from __future__ import annotations

import pandas as pd
import pytest

from swapflow.faceset import load_faceset
from tests.conftest import load_config, planned_jobs, run_snakemake, write_config


def config(**sections) -> dict:
    """tests/configs/short.yaml with ``sections``."""
    return load_config("short") | sections


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("extract")
    write_config(workdir, config())
    run_snakemake(workdir, "results/faceset/man")
    return workdir


def test_faceset_of_every_frame(extracted):
    alignments = pd.read_parquet(extracted / "results/align/man.parquet")
    assert alignments["frame"].nunique() == 72 and alignments["keep"].sum() == 72
    # the man's clip shows one face a frame: none lost to extract.max_faces
    assert alignments.attrs == {"frames": 72, "width": 640, "height": 360, "max_faces_dropped": []}
    faceset = load_faceset(extracted / "results/faceset/man")
    # curation sees every aligned face and keeps those no filter removed
    n = (faceset.curation["removed"] == "").sum()
    assert len(faceset.curation) == 72 and 25 <= n < 72
    assert faceset.faces.shape == (n, 256, 256, 3) and faceset.masks.shape == (n, 256, 256)
    assert faceset.index["frame"].tolist() == faceset.curation.loc[
        faceset.curation["removed"] == "", "frame"].tolist()
    assert (extracted / "results/faceset/man.jpg").stat().st_size > 10_000
    assert "detect+landmarks" in (extracted / "logs/detect/man/0.log").read_text()


def test_sharded_extraction_equals_unsharded(extracted, tmp_path):
    write_config(tmp_path, config(extract={"shard_size": 25}))
    run_snakemake(tmp_path, "results/align/man.parquet")
    assert sorted(p.name for p in (tmp_path / "results/detect/man").iterdir()) == [
        "0.parquet", "1.parquet", "2.parquet"]
    sharded = pd.read_parquet(tmp_path / "results/align/man.parquet")
    whole = pd.read_parquet(extracted / "results/align/man.parquet")
    assert len(list((extracted / "results/detect/man").iterdir())) == 1
    pd.testing.assert_frame_equal(sharded, whole)


def test_faceset_mask_reruns_faceset_only(extracted):
    write_config(extracted, config(mask={"faceset_mask": "components"}))
    try:
        assert planned_jobs(extracted, "results/faceset/man") == {"faceset": 1}
    finally:
        write_config(extracted, config())


def test_extract_setting_reruns_from_detect(extracted):
    write_config(extracted, config(extract={"threshold": 0.8}))
    try:
        assert planned_jobs(extracted, "results/faceset/man") == {
            "detect": 1, "align": 1, "mask": 1, "faceset": 1}
    finally:
        write_config(extracted, config())

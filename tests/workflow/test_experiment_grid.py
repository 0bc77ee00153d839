"""A small experiment through the real workflow: the short swap project on the
man's clip, training lengths 20 and 30 at a constant rate, seeds 0 and 1."""

from __future__ import annotations

import shutil
import statistics

import pandas as pd
import pytest
import torch

from swapflow.io import read_json
from tests.conftest import planned_jobs, project, run_snakemake, write_config
from tests.workflow.conftest import swap_config

def experiment_config(iterations=(20, 30), seeds=(0, 1), grid_extra=None) -> dict:
    config = swap_config()
    config["swaps"][0]["videos"] = ["man"]
    config["experiments"] = [{"name": "len", "swap": "w2m", "seeds": list(seeds),
                              "train": {"overrides": ["lr_schedule=constant"]},
                              "grid": {"train.iterations": list(iterations)} | (grid_extra or {})}]
    return config


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("experiment")
    project(workdir, "swap")
    write_config(workdir, experiment_config())
    run_snakemake(workdir, "experiments")
    return workdir


def test_table_holds_mean_sd_and_n_of_the_evaluations(experiment):
    table = pd.read_csv(experiment / "results/experiments/len/table.tsv", sep="\t")
    for metric in ("recon_a_psnr_masked", "recon_b_ssim_masked", "sharpness_ratio", "model_iterations"):
        for n in (20, 30):
            values = [read_json(experiment / f"results/evaluate/len_iterations~{n}_seed~{seed}/man.json")[metric]
                      for seed in (0, 1)]
            row = table[(table["metric"] == metric) & (table["iterations"] == n)].iloc[0]
            assert row["n"] == 2 and row["seeds"] == "0 1"
            assert row["mean"] == pytest.approx(statistics.mean(values), rel=1e-12)
            assert row["sd"] == pytest.approx(statistics.stdev(values), rel=1e-12, abs=1e-12)
    steps = pd.read_csv(experiment / "results/experiments/len/differences.tsv", sep="\t", keep_default_na=False)
    assert set(steps["setting"]) == {"iterations"} and set(steps["beyond_noise"]) <= {"yes", "no"}
    assert {p.name for p in (experiment / "results/experiments/len/figures").iterdir()} >= {
        "recon_a_psnr_masked.png", "sharpness_ratio.png", "id_distance_a.png"}


def test_each_point_has_its_model_and_the_longer_continue_the_shorter(experiment):
    models = sorted(p.name for p in (experiment / "results/model").iterdir())
    assert len(models) == 4
    for seed in (0, 1):
        short = read_json(experiment / f"results/model/{_trained(experiment, 20, seed)}/manifest.json")
        long = read_json(experiment / f"results/model/{_trained(experiment, 30, seed)}/manifest.json")
        assert short["iterations"] == 20 and long["iterations"] == 30 and long["seed"] == seed
        assert long["continued_from"] == f"results/checkpoints/{_trained(experiment, 20, seed)}/checkpoint.pt"
        curve = pd.read_csv(experiment / f"results/model/{_trained(experiment, 30, seed)}/curve.tsv", sep="\t")
        # curve.every 250: the point at 0 and the run's last; the shorter run's last (20),
        # off the grid, is not carried on
        assert list(curve["iteration"]) == [0, 30]


def _trained(workdir, iterations: int, seed: int) -> str:
    """The model folder a point trained (each point trains its own here)."""
    return next(p.parent.name for p in (workdir / "results/model").glob("*/manifest.json")
                if read_json(p)["iterations"] == iterations and read_json(p)["seed"] == seed)


def test_a_point_trained_again_gives_the_same_weights_and_metrics(experiment, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(experiment, again, symlinks=True)
    model = _trained(again, 20, 1)
    shutil.rmtree(again / "results/checkpoints")  # nothing to resume: from the first step
    run_snakemake(again, "results/evaluate/len_iterations~20_seed~1/man.json", "--forcerun",
                  f"results/model/{model}")
    assert "resumed" not in (again / f"logs/train/{model}.log").read_text()
    first = torch.load(experiment / f"results/model/{model}/model.pt", weights_only=True)["state_dict"]
    second = torch.load(again / f"results/model/{model}/model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert read_json(again / "results/evaluate/len_iterations~20_seed~1/man.json") == \
        read_json(experiment / "results/evaluate/len_iterations~20_seed~1/man.json")


def test_growing_the_grid_plans_its_new_points_and_shrinking_it_nothing_but_the_table(experiment):
    write_config(experiment, experiment_config(iterations=(20, 30, 40)))
    try:
        grown = planned_jobs(experiment, "experiments")
        write_config(experiment, experiment_config(iterations=(20,)))
        shrunk = planned_jobs(experiment, "experiments")
        write_config(experiment, experiment_config(seeds=(0, 1, 2)))
        seeded = planned_jobs(experiment, "experiments")
    finally:
        write_config(experiment, experiment_config())
    # the man's clip: convert 2 shards a point
    assert grown == {"train": 2, "convert": 4, "merge": 2, "evaluate": 2, "experiment": 1, "experiments": 1}
    assert shrunk == {"experiment": 1, "experiments": 1}
    assert seeded == {"train": 2, "convert": 4, "merge": 2, "evaluate": 2, "experiment": 1, "experiments": 1}
    assert planned_jobs(experiment, "experiments") == {}


def test_a_typo_in_a_grid_key_fails_the_dry_run(experiment):
    for extra, message in [({"convert.colour": ["rct"]}, "experiments.len.grid: unknown key 'convert.colour'"),
                           ({"train.batch_sise": [8]}, "override 'batch_sise=8' does not apply")]:
        write_config(experiment, experiment_config(grid_extra=extra))
        try:
            res = run_snakemake(experiment, "-n", "experiments", check=False)
        finally:
            write_config(experiment, experiment_config())
        assert res.returncode != 0 and message in res.stdout + res.stderr


def test_experiments_whose_names_extend_each_other_keep_their_own_tables(experiment):
    """`len` and `len.differences`: each its own folder of table, differences and figures."""
    config = experiment_config()
    config["experiments"].append(config["experiments"][0] | {"name": "len.differences"})
    write_config(experiment, config)
    try:
        res = run_snakemake(experiment, "-n", "experiments")
    finally:
        write_config(experiment, experiment_config())
    planned = {line.split(": ", 1)[1] for line in (res.stdout + res.stderr).splitlines()
               if line.strip().startswith("output: ")}
    assert {"results/experiments/len.differences/table.tsv, results/experiments/len.differences/differences.tsv, "
            "results/experiments/len.differences/figures"} <= planned

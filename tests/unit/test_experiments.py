"""Experiment tables, differences against seed noise and figures, on small hand-made grids."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from swapflow.config import POINT_NAME_LIMIT, check_name, load_schema
from swapflow.grid import expand_experiments
from swapflow.experiments import aggregate, differences, plot_metric, write_experiment
from swapflow.schema import ConfigError

SETTINGS = ["iterations", "lr"]
# recon_a_psnr_masked per (iterations, lr, video), one value per seed 0, 1, 2. The
# grid appears as 600 before 2400 ("2400" < "600" as text) and lr 0.001 before 0.0005.
PSNR = {
    (600, 0.001, "man"): [20.0, 24.0, 22.0],     # mean 22, sd 2
    (600, 0.0005, "man"): [20.0, 21.0, 23.0],    # mean 21.3333, sd 1.5275
    (2400, 0.001, "man"): [23.0, 20.0, None],    # mean 21.5, sd 2.1213, n 2
    (2400, 0.0005, "man"): [25.0, 25.5, 26.0],   # mean 25.5, sd 0.5
}


def _rows(psnr: dict) -> pd.DataFrame:
    """One row per (swap, video), metric columns in no particular order, and a text column."""
    return pd.DataFrame([
        {"swap": f"i{iterations}_lr{lr}_s{seed}", "video": video, "zeta_extra": 1.0, "iterations": iterations,
         "model_iterations": iterations, "lr": lr, "seed": seed, "face": "woman", "sharpness_ratio": 0.5 + seed,
         "alpha_extra": None if seed else 3.0, "recon_a_psnr_masked": value}
        for (iterations, lr, video), values in psnr.items() for seed, value in enumerate(values)])


def _point(table: pd.DataFrame, metric: str, iterations: int, lr: float) -> pd.Series:
    found = table[(table.metric == metric) & (table.iterations == iterations) & (table.lr == lr)]
    assert len(found) == 1
    return found.iloc[0]


def test_aggregate_mean_sd_n_and_order():
    table = aggregate(_rows(PSNR), SETTINGS)
    assert list(table.columns) == [*SETTINGS, "video", "metric", "mean", "sd", "n", "seeds"]
    assert list(pd.unique(table.metric)) == ["recon_a_psnr_masked", "sharpness_ratio", "model_iterations",
                                             "alpha_extra", "zeta_extra"]  # "face" is text: not a metric
    psnr = table[table.metric == "recon_a_psnr_masked"]
    assert list(zip(psnr.iterations, psnr.lr)) == [(600, 0.001), (600, 0.0005), (2400, 0.001), (2400, 0.0005)]
    point = _point(table, "recon_a_psnr_masked", 600, 0.0005)
    assert (point["mean"], point["sd"], point["n"], point["seeds"]) == (
        pytest.approx(21.333333), pytest.approx(1.527525), 3, "0 1 2")
    missing = _point(table, "recon_a_psnr_masked", 2400, 0.001)  # seed 2 has None: skipped, not counted
    assert (missing["mean"], missing["sd"], missing["n"], missing["seeds"]) == (
        pytest.approx(21.5), pytest.approx(2.121320), 2, "0 1")
    single = _point(table, "alpha_extra", 600, 0.001)
    assert single["mean"] == 3.0 and single["n"] == 1 and math.isnan(single["sd"])


def test_differences_against_seed_noise():
    diffs = differences(aggregate(_rows(PSNR), SETTINGS), SETTINGS)
    assert set(diffs.metric) == {"recon_a_psnr_masked", "sharpness_ratio", "model_iterations"}  # HEADLINE only
    psnr = diffs[(diffs.metric == "recon_a_psnr_masked") & (diffs.setting == "iterations")].set_index("others")
    assert list(psnr.index) == ["lr=0.001", "lr=0.0005"]
    assert list(psnr["from"]) == [600, 600] and list(psnr["to"]) == [2400, 2400]
    clear = psnr.loc["lr=0.0005"]  # 21.333 -> 25.5, seeds agree
    assert clear["difference"] == pytest.approx(4.166667)
    assert clear["noise"] == pytest.approx(2 * math.sqrt(1.527525 ** 2 / 3 + 0.5 ** 2 / 3))
    assert (clear["seed_sd"], clear["beyond_noise"]) == (pytest.approx(1.527525), "yes")
    noisy = psnr.loc["lr=0.001"]  # 22 -> 21.5, seeds spread by about 2
    assert noisy["difference"] == pytest.approx(-0.5)
    assert noisy["noise"] == pytest.approx(2 * math.sqrt(2.0 ** 2 / 3 + 2.121320 ** 2 / 2))
    assert noisy["beyond_noise"] == "no"
    lr = diffs[(diffs.metric == "recon_a_psnr_masked") & (diffs.setting == "lr")]
    assert list(zip(lr["from"], lr["to"], lr["others"])) == [(0.001, 0.0005, "iterations=600"),
                                                             (0.001, 0.0005, "iterations=2400")]
    assert list(lr["difference"]) == pytest.approx([21.333333 - 22.0, 25.5 - 21.5])


def test_single_seed_has_no_spread_and_no_verdict():
    one_seed = {key: values[:1] for key, values in PSNR.items()}
    table = aggregate(_rows(one_seed), SETTINGS)
    assert (table.n == 1).all() and table.sd.isna().all() and (table.seeds == "0").all()
    diffs = differences(table, SETTINGS)
    assert len(diffs) == 2 * 2 * 3  # 2 settings x 2 others' values x 3 HEADLINE metrics
    assert diffs.noise.isna().all() and (diffs.beyond_noise == "n/a").all()


def test_plot_metric_writes_a_png(tmp_path):
    table = aggregate(_rows(PSNR), SETTINGS)
    plot_metric(table, SETTINGS, "recon_a_psnr_masked", tmp_path / "psnr.png")
    with Image.open(tmp_path / "psnr.png") as image:
        assert image.format == "PNG" and image.size == (900, 350)  # two panels of 4.5 x 3.5 inches at 100 dpi


def test_write_experiment(tmp_path):
    two_videos = {**PSNR, **{(i, lr, "woman"): [30.0, 31.0, 32.0] for i, lr, _ in PSNR}}
    write_experiment(_rows(two_videos), SETTINGS, tmp_path / "table.tsv", tmp_path / "differences.tsv",
                     tmp_path / "figures")
    table = pd.read_csv(tmp_path / "table.tsv", sep="\t")
    assert len(table) == 4 * 2 * 5  # grid points x videos x metrics
    woman = table[(table.video == "woman") & (table.metric == "recon_a_psnr_masked")]
    assert list(woman["mean"]) == pytest.approx([31.0] * 4) and list(woman["sd"]) == pytest.approx([1.0] * 4)
    diffs = pd.read_csv(tmp_path / "differences.tsv", sep="\t", keep_default_na=False)
    assert set(diffs.video) == {"man", "woman"} and set(diffs.beyond_noise) <= {"yes", "no", "n/a"}
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "model_iterations.png", "recon_a_psnr_masked.png", "sharpness_ratio.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["differences.tsv", "figures", "table.tsv"]


# ---- expanding an experiment into swaps (swapflow.config) -------------------------------

SCHEMA = load_schema(Path(__file__).resolve().parents[2] / "workflow/schemas/config.schema.yaml")


def _config(**experiment) -> dict:
    config = {"swaps": [{"name": "w2m", "face": "woman", "target": "man",
                         "train": {"overrides": ["batch_size=8"]}, "convert": {}, "merge": {}}],
              "experiments": [{"name": "e", "swap": "w2m", "seeds": [0]} | experiment]}
    return config


def test_a_grid_expands_into_named_swaps():
    config = _config(grid={"train.iterations": [600, 2400], "train.model.lr": [2e-4],
                           "convert.color": ["rct", "none"]}, seeds=[0, 3],
                     train={"overrides": ["lr_schedule=constant"]})
    points = expand_experiments(config, SCHEMA)["e"]
    made = config["swaps"][1:]
    assert [s["name"] for s in made][:3] == ["e_iterations~600_lr~0.0002_color~rct_seed~0",
                                             "e_iterations~600_lr~0.0002_color~rct_seed~3",
                                             "e_iterations~600_lr~0.0002_color~none_seed~0"]
    assert len(made) == len(points) == 8 and all(s["experiment"] == "e" for s in made)
    last = made[-1]
    assert last["train"]["iterations"] == 2400 and last["convert"]["color"] == "none"
    # the swap's overrides, the experiment's, the grid's, the seed: in that order
    assert last["train"]["overrides"] == ["batch_size=8", "lr_schedule=constant", "model.lr=0.0002", "seed=3"]
    assert points[-1] == {"swap": last["name"], "seed": 3,
                          "settings": {"iterations": 2400, "lr": 2e-4, "color": "none"}}
    assert config["swaps"][0]["train"]["overrides"] == ["batch_size=8"], "the base swap is left as it was"


def test_keys_that_share_a_last_word_keep_their_path():
    config = _config(grid={"train.batch_size": [8], "train.data.zoom": [0.1], "convert.batch_size": [4]})
    expand_experiments(config, SCHEMA)
    assert config["swaps"][1]["name"] == "e_train.batch_size~8_zoom~0.1_convert.batch_size~4_seed~0"
    config = _config(grid={"train.overrides": [["loss.gradient=1", "data.flip=false"]]})
    expand_experiments(config, SCHEMA)
    assert config["swaps"][1]["name"] == "e_overrides~loss.gradient-1+data.flip-false_seed~0"


def test_a_grid_sweeps_an_occlusion_sources_own_setting():
    """``convert.<source>.<key>`` is set under the source in each point's swap; two
    sources' ``threshold`` keep their paths in the names."""
    config = _config(grid={"convert.skin.threshold": [3.0, 5.0], "convert.reconstruction.threshold": [2.0]})
    expand_experiments(config, SCHEMA)
    made = config["swaps"][1:]
    assert [s["name"] for s in made] == [
        "e_convert.skin.threshold~3_convert.reconstruction.threshold~2_seed~0",
        "e_convert.skin.threshold~5_convert.reconstruction.threshold~2_seed~0"]
    assert made[1]["convert"] == {"skin": {"threshold": 5.0}, "reconstruction": {"threshold": 2.0}}
    with pytest.raises(ConfigError, match=r"experiments.e.grid: unknown key 'convert.skin.thresh' \(allowed: "
                                          r"convert.mask, .*convert.skin.threshold"):
        expand_experiments(_config(grid={"convert.skin.thresh": [3.0]}), SCHEMA)


def test_a_grid_over_a_list_setting_makes_names_a_swap_may_have():
    config = _config(grid={"train.overrides": [["loss.gradient=1", "data.flip=false"], ["data.flip=true"]]})
    expand_experiments(config, SCHEMA)
    for swap in config["swaps"][1:]:
        check_name("swaps", swap["name"], POINT_NAME_LIMIT)
    assert config["swaps"][2]["name"] == "e_overrides~data.flip-true_seed~0"


@pytest.mark.parametrize("key", ["train.+extra.video", "train.+x.seed", "train.+x.mean", "train.+x.swap",
                                 "train.+x.recon_a_psnr_masked", "train.+x.beyond_noise"])
def test_a_grid_key_named_as_a_column_keeps_its_path(key):
    """A label that is a column of the rows or tables, or a metric, is the whole
    key: the point's row keeps its video, seed, swap and metrics."""
    config = _config(grid={key: [1, 2]})
    points = expand_experiments(config, SCHEMA)["e"]
    assert config["swaps"][1]["name"] == f"e_{key}~1_seed~0"
    assert points[0]["settings"] == {key: 1}


def test_experiments_and_points_never_share_a_name():
    two = _config(grid={"train.iterations": [10]})
    two["experiments"].append(two["experiments"][0] | {"grid": {"train.iterations": [20]}})
    with pytest.raises(ConfigError, match="experiments: the name 'e' is used by more than one experiment"):
        expand_experiments(two, SCHEMA)
    alike = _config(grid={"merge.watermark": ["A B", "A-B"]})
    with pytest.raises(ConfigError, match=r"experiments.e: the point \{'merge.watermark': 'A-B'\} with seed 0 is "
                                          r"named 'e_watermark~A-B_seed~0', as another swap or point is"):
        expand_experiments(alike, SCHEMA)
    taken = _config(grid={"train.iterations": [10]})
    taken["swaps"].append(taken["swaps"][0] | {"name": "e_iterations~10_seed~0"})
    with pytest.raises(ConfigError, match="named 'e_iterations~10_seed~0', as another swap or point is"):
        expand_experiments(taken, SCHEMA)


@pytest.mark.parametrize("size, seeds, count", [(10, 1, "1,000,000"), (4, 4, "16,384")])
def test_a_grid_too_large_is_counted_not_made(size, seeds, count):
    keys = ["train.iterations", "train.batch_size", "train.model.lr", "train.data.zoom", "convert.batch_size",
            "merge.crf"]
    config = _config(grid={key: list(range(1, size + 1)) for key in keys}, seeds=list(range(seeds)))
    with pytest.raises(ConfigError, match=rf"experiments.e: its grid makes {count} swaps \({size} train.iterations "
                                          rf"x .* x {size} merge.crf x {seeds} seeds\), more than the 1,000"):
        expand_experiments(config, SCHEMA)
    assert len(config["swaps"]) == 1  # none made


def test_values_are_drawn_as_written(tmp_path):
    """Grid values holding $, backslashes and carets are text in the figures, not
    formulas (matplotlib would stop on these as bad TeX, losing the tables)."""
    rows = _rows(PSNR)
    rows["lr"] = rows["lr"].map({0.001: "SYNTHETIC $x^$", 0.0005: "$\\nosuch{$"})
    write_experiment(rows, SETTINGS, tmp_path / "table.tsv", tmp_path / "differences.tsv", tmp_path / "figures")
    table = pd.read_csv(tmp_path / "table.tsv", sep="\t")
    assert set(table["lr"]) == {"SYNTHETIC $x^$", "$\\nosuch{$"}
    with Image.open(tmp_path / "figures" / "recon_a_psnr_masked.png") as image:
        assert image.size == (900, 350)


@pytest.mark.parametrize("experiment, message", [
    ({"grid": {"convert.colour": ["rct"]}}, "experiments.e.grid: unknown key 'convert.colour' (allowed: convert.mask,"),
    ({"grid": {"colour": ["rct"]}}, "experiments.e.grid: 'colour' is not a setting a grid can sweep"),
    ({"grid": {"train.seed": [1]}}, "experiments.e.grid: 'train.seed': give seeds as the experiment's seeds"),
    ({"grid": {"convert.color": ["sepia"]}}, "experiments.e.e_color~sepia_seed~0.convert.color: 'sepia' is not allowed"),
    ({"swap": "w2n"}, "experiments.e.swap: 'w2n' is not in swaps (known: w2m)"),
])
def test_a_bad_experiment_is_named(experiment, message):
    with pytest.raises(ConfigError) as err:
        expand_experiments(_config(**experiment), SCHEMA)
    assert message in str(err.value)

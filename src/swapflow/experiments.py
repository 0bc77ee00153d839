"""Research experiments: grid points x seeds -> tables of mean, spread and n,
differences against seed noise, and figures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from swapflow.summary import HEADLINE
from swapflow.io import atomic_path

DIFFERENCE_COLUMNS = ["setting", "from", "to", "others", "video", "metric",
                      "difference", "seed_sd", "noise", "beyond_noise"]
# the columns of a row (swap, video, seed) and of the tables, besides the settings
TABLE_COLUMNS = ("swap", "video", "seed", "metric", "mean", "sd", "n", "seeds", *DIFFERENCE_COLUMNS)


def aggregate(rows: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """One row per (grid point, video, metric): mean, sample sd and n over the
    seeds that have a value, and those seeds as text ("0 1 2").

    Metrics are the columns besides swap, video, seed and the settings whose
    values are all numbers (missing ones skipped); a column with no value at all
    is left out. Order: HEADLINE metrics first, then the rest alphabetically;
    within a metric, grid points and videos in the order they first appear."""
    settings = list(settings)
    values = _metric_values(rows, settings)
    long = pd.concat([rows[[*settings, "video", "seed"]], values], axis=1).melt(
        id_vars=[*settings, "video", "seed"], var_name="metric").dropna(subset=["value"])
    table = long.groupby([*settings, "video", "metric"], sort=False).agg(
        mean=("value", "mean"), sd=("value", "std"), n=("value", "count"), seeds=("seed", _seed_text)).reset_index()
    ranks = {column: _first_appearance(rows[column]) for column in [*settings, "video"]}
    ranks["metric"] = {m: i for i, m in enumerate(_metric_order(values.columns))}
    return table.sort_values(["metric", *settings, "video"], key=lambda column: column.map(ranks[column.name]),
                             kind="stable", ignore_index=True)


def differences(table: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """For each setting, each step between consecutive values, with the other
    settings, the video and the (HEADLINE) metric fixed: the change of the mean,
    and whether it exceeds seed noise, 2 * sqrt(sd1²/n1 + sd2²/n2)."""
    table = table[table["metric"].isin(HEADLINE)]
    steps = [step for setting in settings for step in _steps(table, list(settings), setting) if not step.empty]
    return pd.concat(steps, ignore_index=True) if steps else pd.DataFrame(columns=DIFFERENCE_COLUMNS)


def plot_metric(table: pd.DataFrame, settings: Sequence[str], metric: str, path: str | os.PathLike) -> None:
    """One PNG of ``metric``: a panel per setting, its values along x, one line
    per combination of the other settings and video, error bars the sd over
    seeds. With no setting swept (seeds only), the one panel has the videos along x."""
    import matplotlib  # here: planning a workflow reads this module's columns, not its figures

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    data = table[table["metric"] == metric]
    panels = list(settings) or ["video"]
    # every text as written: a value holding $ is no formula
    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), dpi=100, squeeze=False)
        for ax, setting in zip(axes[0], panels):
            _plot_panel(ax, data, [s for s in settings if s != setting], setting)
            ax.set_ylabel(metric)
        fig.suptitle(f"{metric} (error bars: sd over {_count_text(data['n'])} seeds)", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=100)
        plt.close(fig)


def write_experiment(rows: pd.DataFrame, settings: Sequence[str], table_path: str | os.PathLike,
                     differences_path: str | os.PathLike, figure_dir: str | os.PathLike) -> None:
    """The experiment's table and differences as TSV, and a ``<metric>.png`` per
    HEADLINE metric present in ``figure_dir``; each written atomically."""
    table = aggregate(rows, settings)
    with atomic_path(table_path) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    with atomic_path(differences_path) as tmp:
        differences(table, settings).to_csv(tmp, sep="\t", index=False)
    with atomic_path(figure_dir) as tmp:
        tmp.mkdir()
        for metric in (m for m in HEADLINE if m in set(table["metric"])):
            plot_metric(table, settings, metric, Path(tmp) / f"{metric}.png")


def _metric_values(rows: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """The metric columns as floats: those whose present values are all numbers."""
    keys = {"swap", "video", "seed", *settings}
    kept = {}
    for column in rows.columns.difference(list(keys), sort=False):
        numbers = pd.to_numeric(rows[column], errors="coerce")
        present = rows[column].notna().sum()
        if present and numbers.notna().sum() == present:
            kept[column] = numbers.astype(float)
    return pd.DataFrame(kept, index=rows.index)


def _metric_order(metrics: Sequence[str]) -> list[str]:
    """HEADLINE metrics in HEADLINE order, then the rest alphabetically."""
    return [m for m in HEADLINE if m in set(metrics)] + sorted(set(metrics) - set(HEADLINE))


def _first_appearance(column: pd.Series) -> dict[Any, int]:
    return {value: i for i, value in enumerate(pd.unique(column))}


def _seed_text(seeds: pd.Series) -> str:
    return " ".join(str(int(s)) for s in sorted(seeds))


def _others_text(frame: pd.DataFrame, others: list[str]) -> pd.Series:
    """"iterations=600, lr=0.0005" per row ("" with no other setting)."""
    text = [", ".join(f"{o}={frame[o].iloc[i]}" for o in others) for i in range(len(frame))]
    return pd.Series(text, index=frame.index, dtype=object)


def _steps(table: pd.DataFrame, settings: list[str], setting: str) -> list[pd.DataFrame]:
    """The differences along ``setting``: a table per pair of consecutive values."""
    others = [s for s in settings if s != setting]
    keys = [*others, "video", "metric"]
    values = pd.unique(table[setting])
    out = []
    for before, after in zip(values[:-1], values[1:]):
        pair = table[table[setting] == before].merge(table[table[setting] == after], on=keys, suffixes=("_1", "_2"))
        # NaN where a point has one seed: its sd is NaN
        noise = 2 * np.sqrt(pair["sd_1"] ** 2 / pair["n_1"] + pair["sd_2"] ** 2 / pair["n_2"])
        difference = pair["mean_2"] - pair["mean_1"]
        out.append(pd.DataFrame({
            "setting": setting, "from": _repeat(before, pair.index), "to": _repeat(after, pair.index),
            "others": _others_text(pair, others),
            "video": pair["video"], "metric": pair["metric"], "difference": difference,
            "seed_sd": np.maximum(pair["sd_1"], pair["sd_2"]), "noise": noise,
            "beyond_noise": np.where(noise.isna(), "n/a", np.where(difference.abs() > noise, "yes", "no")),
        }, columns=DIFFERENCE_COLUMNS))
    return out


def _repeat(value: Any, index: pd.Index) -> pd.Series:
    """``value`` on every row, kept as it is (600 stays 600 beside another setting's 0.001)."""
    return pd.Series([value] * len(index), index=index, dtype=object)


def _plot_panel(ax: Any, data: pd.DataFrame, others: list[str], setting: str) -> None:
    """Mean ± sd against the values of ``setting``, a line per other-settings x video."""
    values = list(pd.unique(data[setting]))
    position = {value: i for i, value in enumerate(values)}
    lines = [c for c in [*others, "video"] if c != setting]
    for key, line in (data.groupby(lines, sort=False) if lines else [((), data)]):
        label = ", ".join(str(v) if c == "video" else f"{c}={v}" for c, v in zip(lines, key))
        ax.errorbar(line[setting].map(position), line["mean"], yerr=line["sd"], marker="o", capsize=3,
                    label=label or None)
    ax.set_xticks(range(len(values)), [str(v) for v in values])
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(setting)
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=7)


def _count_text(n: pd.Series) -> str:
    """"3", or "2-3" where the number of seeds varies."""
    low, high = (int(n.min()), int(n.max())) if len(n) else (0, 0)
    return str(high) if low == high else f"{low}-{high}"

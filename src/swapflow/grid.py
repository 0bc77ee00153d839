"""An experiment's grid expanded into swaps: one a point and seed, named like Snakemake's Paramspace."""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from swapflow.config import SWAP_SECTIONS, check_name, swap_problems
from swapflow.experiments import TABLE_COLUMNS
from swapflow.schema import ConfigError
from swapflow.summary import METRICS

# swaps an experiment may make (grid points x seeds): planning takes about 50 s a 1,000
MAX_SWAPS = 1000
# labels a grid key cannot have: the tables' own columns and the metrics
TAKEN_LABELS = {*TABLE_COLUMNS, *METRICS}


def expand_experiments(config: dict, schema: Mapping) -> dict[str, list[dict[str, Any]]]:
    """Add to ``config["swaps"]`` one swap per grid point and seed of each
    experiment: a copy of its base swap with the experiment's own train, convert
    and merge keys on top (train overrides added) and the grid's values set, named like
    Snakemake's Paramspace (``<experiment>_<key>~<value>..._seed~<n>``, the key
    being the setting's last word unless two share it), marked ``experiment``.

    A grid key is ``train.<key>`` (a key of the train section, or of the training
    config: it becomes an override ``<key>=<value>``), ``convert.<key>`` or
    ``merge.<key>``; values are checked as the sections are. Returns {experiment:
    [{"swap", "seed", "settings": {label: value}}]} in the grid's order."""
    swaps = {swap["name"]: swap for swap in config["swaps"]}
    names = set(swaps)  # of every swap, given and made: a made one must be new
    expanded = {}
    for experiment in config["experiments"]:
        where = f"experiments.{experiment['name']}"
        check_name("experiments", experiment["name"])
        if experiment["name"] in expanded:
            raise ConfigError(f"experiments: the name '{experiment['name']}' is used by more than one "
                              "experiment")
        if experiment["swap"] not in swaps:
            raise ConfigError(f"{where}.swap: '{experiment['swap']}' is not in swaps "
                              f"(known: {', '.join(swaps)})")
        grid = experiment["grid"]
        for key in grid:
            _check_grid_key(f"{where}.grid", key, schema)
        _check_count(where, grid, experiment["seeds"])
        labels = _grid_labels(list(grid))
        points = []
        for values in itertools.product(*grid.values()):
            for seed in experiment["seeds"]:
                swap = copy.deepcopy(swaps[experiment["swap"]])
                swap["name"] = "_".join([experiment["name"], *(f"{label}~{_value_text(value)}"
                                         for label, value in zip(labels, values)), f"seed~{seed}"])
                if swap["name"] in names:
                    raise ConfigError(f"{where}: the point {dict(zip(grid, values))} with seed {seed} is "
                                      f"named '{swap['name']}', as another swap or point is (values "
                                      "that differ only in characters a name cannot hold, or a swap "
                                      "of that name); make them differ in letters or digits")
                names.add(swap["name"])
                swap["experiment"] = experiment["name"]
                for section in SWAP_SECTIONS:
                    for key, value in (experiment.get(section) or {}).items():
                        _set_grid_value(swap, f"{section}.{key}", value, schema)
                for key, value in zip(grid, values):
                    _set_grid_value(swap, key, value, schema)
                swap.setdefault("train", {})["overrides"] = [*swap["train"].get("overrides", []), f"seed={seed}"]
                problems = swap_problems(swap, schema, where)
                if problems:
                    raise ConfigError("\n".join(problems))
                config["swaps"].append(swap)
                points.append({"swap": swap["name"], "seed": seed, "settings": dict(zip(labels, values))})
        expanded[experiment["name"]] = points
    return expanded


def _check_grid_key(where: str, key: str, schema: Mapping) -> None:
    section, _, name = key.partition(".")
    if section not in SWAP_SECTIONS or not name:
        raise ConfigError(f"{where}: '{key}' is not a setting a grid can sweep (train.<key>, "
                          "convert.<key> or merge.<key>)")
    if name == "seed":
        raise ConfigError(f"{where}: '{key}': give seeds as the experiment's seeds")
    known = _keys(schema["properties"][section]["properties"])
    if section != "train" and name not in known:
        raise ConfigError(f"{where}: unknown key '{key}' (allowed: "
                          f"{', '.join(f'{section}.{k}' for k in known)})")


def _keys(properties: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of a section's schema properties (a plugin's own: ``hands.dilate``)."""
    return [key for name, prop in properties.items()
            for key in (_keys(prop["properties"], f"{prefix}{name}.") if "properties" in prop
                        else [f"{prefix}{name}"])]


def _check_count(where: str, grid: Mapping[str, list], seeds: list) -> None:
    """Refuse a grid of more than MAX_SWAPS swaps, counted before any is made."""
    count = math.prod(len(values) for values in grid.values()) * len(seeds)
    if count > MAX_SWAPS:
        shape = " x ".join([*(f"{len(values)} {key}" for key, values in grid.items()), f"{len(seeds)} seeds"])
        raise ConfigError(f"{where}: its grid makes {count:,} swaps ({shape}), more than the {MAX_SWAPS:,} "
                          "an experiment may make; sweep fewer values, or split it into experiments")


def _grid_labels(keys: list[str]) -> list[str]:
    """Each key's last word, or the whole key where two share it or where it is
    a column of the experiment's tables (video, mean, ...) or a metric."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return [word if last.count(word) == 1 and word not in TAKEN_LABELS else key
            for key, word in zip(keys, last)]


def _value_text(value: Any) -> str:
    """A grid value as a part of a name: numbers as %g, lists joined by '+',
    anything but letters, digits and _ . - as '-'."""
    if isinstance(value, list):
        return "+".join(map(_value_text, value))
    text = (str(value).lower() if isinstance(value, bool) or value is None
            else f"{value:g}" if isinstance(value, float) else str(value))
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text)


def _set_grid_value(swap: dict, key: str, value: Any, schema: Mapping) -> None:
    """Set a grid value in a swap: a section key directly (train.overrides added to
    the swap's), any other train.<key> as a training-config override."""
    section, _, name = key.partition(".")
    own = swap.setdefault(section, {})
    if section == "train" and name == "overrides":
        own["overrides"] = [*own.get("overrides", []), *(value if isinstance(value, list) else [value])]
    elif section != "train" or name in schema["properties"]["train"]["properties"]:
        *parents, last = name.split(".")  # a plugin's own key: convert.skin.threshold
        for parent in parents:
            own = own.setdefault(parent, {})
        own[last] = value
    else:
        text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
        own["overrides"] = [*own.get("overrides", []), f"{name}={text}"]

"""config/README.md's tables of settings, made from their declarations (``python -m swapflow.config config/README.md``).

A stage section's table comes from its settings dataclasses; the ``training``
table from ``swapflow.train.config.TrainConfig`` (the meanings) and the YAML
files of the training config (the defaults: ``train.yaml``'s and each preset's).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from omegaconf import MISSING

from swapflow.io import load_yaml
from swapflow.schema import ConfigError, config_fields, plain, section_classes

TRAINING = "training"  # the table of the composed training config's keys

TABLE = re.compile(r"(<!-- settings table: (?P<section>[a-z_.-]+)[^\n]*-->\n)(.*?)(<!-- end of settings table -->)",
                   re.DOTALL)


def _default_text(value: Any) -> str:
    """A default as the config writes it: YAML flow style, a string that YAML
    would read as something else in double quotes."""
    value = plain(value)
    if isinstance(value, str) and yaml.safe_load(value) != value:
        return f'"{value}"'
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def table(section: str) -> str:
    """The Markdown table of a section's keys: key, default, meaning."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{f.name}` | `{_default_text(f.default)}` | {f.metadata['doc']} |"
             for cls in section_classes(section) for f in config_fields(cls)]
    return "\n".join(rows) + "\n"


def training_table(config_dir: str | os.PathLike) -> str:
    """The Markdown table of the training config's keys: key, default (``train.yaml``'s,
    then each preset's that sets it), meaning."""
    from swapflow.train.config import TRAIN_KEYS, value_at

    base = load_yaml(Path(config_dir) / "train.yaml")
    presets = {p.stem: load_yaml(p) for p in sorted(Path(config_dir, "model").glob("*.yaml"))}
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, (_, meta) in TRAIN_KEYS.items():
        values = [f"`{_default_text(value_at(base, key))}`"] if value_at(base, key) is not MISSING else []
        values += [f"{name}: `{_default_text(value_at(preset, key))}`" for name, preset in presets.items()
                   if value_at(preset, key) is not MISSING]
        rows.append(f"| `{key}` | {'; '.join(values)} | {meta['doc']} |")
    return "\n".join(rows) + "\n"


def readme_tables(text: str, config_dir: str | os.PathLike = "config") -> str:
    """``text`` with each table between ``<!-- settings table: <section> ... -->``
    and ``<!-- end of settings table -->`` made again from the fields (the
    training table from the training config in ``config_dir``)."""
    def fill(match: re.Match) -> str:
        if match["section"] == TRAINING:
            return match[1] + training_table(config_dir) + match[4]
        if not section_classes(match["section"]):
            raise ConfigError(f"settings table: no settings of section {match['section']!r}")
        return match[1] + table(match["section"]) + match[4]
    return TABLE.sub(fill, text)

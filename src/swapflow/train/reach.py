"""What Hydra may read when a training config is composed: overrides that set
a training setting or pick a preset of the config folder, never a path, a
package or Hydra's own settings (``hydra.searchpath`` would add any folder of
the machine), and YAML files within the config file's bounds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.types import Override

from swapflow.schema import ConfigError, check_size, cut

# the key of an override: a setting's dotted name (model.lr, data.flip) or a
# config group of the config folder (model); no path, no Hydra package (@)
KEY = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
MAX_YAML_BYTES = 1_000_000  # a preset is a few hundred bytes


def check_reach(override: Override, config_dir: Path) -> str | None:
    """Refuse an override that reaches beyond the config folder's settings and
    presets (a path, a package, Hydra's own settings such as hydra.searchpath);
    the config group it picks an option of (model), or None for a setting."""
    key = override.key_or_group
    if override.package is not None or not KEY.fullmatch(key) or key.split(".")[0] == "hydra":
        raise ConfigError(f"override {cut(repr(override.input_line))} does not apply: an override sets "
                          "a training setting (model.lr=1e-4) or picks a preset (model=lite); paths, "
                          "packages (@) and Hydra's own settings (hydra.*) are not taken")
    if not (config_dir / key).is_dir():
        return None
    options = sorted(p.stem for p in (config_dir / key).glob("*.yaml"))
    if override.is_delete() or override.value() not in options:
        raise ConfigError(f"override {cut(repr(override.input_line))} does not apply: {key} takes "
                          f"one of {', '.join(options)}")
    return key


def check_yaml(path: Path, config_dir: Path, own: Sequence[str] = ()) -> None:
    """Refuse a YAML file of the config folder that Hydra is to read if it is
    larger than MAX_YAML_BYTES, stands for more values than a config holds once
    its aliases are expanded (Hydra would expand them all), holds ``${...}``
    (resolved as it is composed), or has a defaults list naming anything but
    ``own`` (the primary config's ``_self_`` and schema) and ``group: option``
    of the folder's own presets."""
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size} bytes, more than the {MAX_YAML_BYTES} a "
                          "training config file may have")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not a YAML file: {cut(str(err))}") from None
    check_size(data, str(path))
    for text in _texts(data):
        if "${" in text:
            raise ConfigError(f"{path}: {cut(repr(text))}: interpolations and resolvers (${{...}}) are "
                              "not taken; write the value itself")
    for entry in (data or {}).get("defaults", []) if isinstance(data, Mapping) else []:
        if entry in own:
            continue
        group, option = next(iter(entry.items())) if isinstance(entry, Mapping) and len(entry) == 1 else ("", "")
        group = str(group).removeprefix("override ").strip().lstrip("/")
        if not (KEY.fullmatch(group) and (config_dir / group / f"{option}.yaml").is_file()
                and "/" not in str(option) and ".." not in str(option)):
            raise ConfigError(f"{path}: defaults entry {cut(repr(entry))} is not taken: a defaults list "
                              "may name _self_, the schema and a preset of the config folder (model: lite)")


def _texts(node: Any) -> Iterator[str]:
    """Every text in ``node``: its keys and values, at any depth (each container once)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, (Mapping, list)) and id(node) not in seen:
            seen.add(id(node))
            stack.extend([*node.keys(), *node.values()] if isinstance(node, Mapping) else node)

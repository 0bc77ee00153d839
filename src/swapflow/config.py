"""Checks of the workflow config that a JSON schema cannot express."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from swapflow.settings import ConfigError
from swapflow.video import VideoError, read_header

# What a user's own config (``--configfile``) defines alone: the demo's are not mixed in.
INPUT_KEYS = ("videos", "identities", "swaps")
# Sections that a swap may override for itself.
SWAP_SECTIONS = ("train", "convert", "merge")


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{self.name}: line {key_node.start_mark.line + 1}: "
                                  f"'{key}' is given twice (first on line {seen[key]})")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def check_duplicate_keys(path: str | Path) -> None:
    """Raise ConfigError if the YAML file names a key twice (e.g. two videos with one name)."""
    with open(path) as handle:
        loader = _UniqueKeyLoader(handle)
        loader.name = str(path)
        try:
            loader.get_single_data()
        finally:
            loader.dispose()


def check_config(config: Mapping, configfiles: Iterable[str | Path] = ()) -> None:
    """Check the names that sections use to refer to each other."""
    for path in configfiles:
        check_duplicate_keys(path)
    videos = config["videos"]
    identities = config["identities"]
    for person, ident in identities.items():
        for name in ident["videos"]:
            if name not in videos:
                raise ConfigError(f"identities.{person}.videos: '{name}' is not in videos "
                                  f"(known: {', '.join(videos)})")
    if config["mask"]["faceset_mask"] not in config["mask"]["types"]:
        raise ConfigError(f"mask.faceset_mask: '{config['mask']['faceset_mask']}' is not one of "
                          f"mask.types ({', '.join(config['mask']['types'])})")
    names = [swap["name"] for swap in config["swaps"]]
    for name in {n for n in names if names.count(n) > 1}:
        raise ConfigError(f"swaps: the name '{name}' is used by more than one swap")
    for swap in config["swaps"]:
        for role in ("face", "target"):
            if swap[role] not in identities:
                raise ConfigError(f"swaps.{swap['name']}.{role}: '{swap[role]}' is not in "
                                  f"identities (known: {', '.join(identities)})")
        if swap["face"] == swap["target"]:
            raise ConfigError(f"swaps.{swap['name']}: face and target are the same identity")
        for name in swap.get("videos", []):
            if name not in videos:
                raise ConfigError(f"swaps.{swap['name']}.videos: '{name}' is not in videos")


def check_videos(videos: Mapping[str, str]) -> None:
    """Read each video's header: missing files, non-videos and audio-only files fail here,
    before any job starts. Folders of images are checked when they are split."""
    for name, path in videos.items():
        if Path(path).is_dir():
            continue
        try:
            read_header(path)
        except VideoError as err:
            raise ConfigError(f"videos.{name}: {err}") from None


def use_own_inputs(config: dict, user_config: Mapping[str, Any]) -> None:
    """Where the config given on the command line names any of INPUT_KEYS, take
    all of them from it alone: Snakemake merges config files key by key, which
    would mix the demo's videos and swaps into a user's run."""
    if any(key in user_config for key in INPUT_KEYS):
        for key in INPUT_KEYS:
            config.pop(key, None)
            if key in user_config:
                config[key] = copy.deepcopy(user_config[key])


def _without_defaults(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def check_swap_sections(config: Mapping, schema: Mapping) -> None:
    """Validate each swap's own ``train``/``convert``/``merge`` against the global
    section's keys and types, without filling defaults (the global values apply)."""
    for swap in config["swaps"]:
        for section in SWAP_SECTIONS:
            given = swap.get(section) or {}
            rules = _without_defaults(schema["properties"][section])
            for err in jsonschema.Draft202012Validator(rules).iter_errors(given):
                where = ".".join(map(str, err.absolute_path))
                raise ConfigError(f"swaps.{swap['name']}.{section}{'.' + where if where else ''}: "
                                  f"{_reason(err, rules)}")


def _reason(err: jsonschema.ValidationError, rules: Mapping) -> str:
    if err.validator == "additionalProperties":
        return f"{err.message} (allowed: {', '.join(rules['properties'])})"
    return err.message

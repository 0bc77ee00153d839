"""The workflow config: schema validation with defaults, and the checks a schema cannot express."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from swapflow.settings import ConfigError, cut
from swapflow.video import VideoError, read_header

# What a user's own config (``--configfile``) defines alone: the demo's are not mixed in.
INPUT_KEYS = ("videos", "identities", "swaps")
# Sections that a swap may override for itself.
SWAP_SECTIONS = ("train", "convert", "merge")
# Names become folder and file names: a plain word, not too long for a path, not
# ending like a file the workflow writes next to it (a swap "summary.tsv" would be
# the folder of results/evaluate/summary.tsv), not a reserved name.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FILE_SUFFIXES = (".json", ".tsv", ".jpg", ".png", ".parquet", ".npz", ".mp4", ".yaml", ".log")
RESERVED = {"passthrough"}


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


def use_own_inputs(config: dict, user_config: Mapping[str, Any]) -> None:
    """Where the config given on the command line names any of INPUT_KEYS, take
    all of them from it alone: Snakemake merges config files key by key, which
    would mix the demo's videos and swaps into a user's run."""
    if any(key in user_config for key in INPUT_KEYS):
        for key in INPUT_KEYS:
            config.pop(key, None)
            if key in user_config:
                config[key] = copy.deepcopy(user_config[key])


def validate_config(config: dict, schema: Mapping) -> None:
    """Check ``config`` against the JSON ``schema``, then fill in its defaults.

    Each swap's own ``train``/``convert``/``merge`` is checked against the global
    section's keys and types without filling defaults (the global values apply).
    Every problem is one line of the ConfigError, naming the key path and what
    is allowed there.
    """
    check_size(config)
    problems = [_problem(err) for err in jsonschema.Draft202012Validator(schema).iter_errors(config)]
    for i, swap in enumerate(config.get("swaps") or []):
        if not isinstance(swap, Mapping):
            continue
        for section in SWAP_SECTIONS:
            rules = _without_defaults(schema["properties"][section])
            for err in jsonschema.Draft202012Validator(rules).iter_errors(swap.get(section) or {}):
                where = ["swaps", swap.get("name", i), section, *err.absolute_path]
                problems.append(_problem(err, where))
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    _Defaults(schema).validate(config)


# A config holds a few hundred values; YAML aliases can make a 650-byte file
# stand for billions, which validation and its messages would walk and print.
MAX_CONFIG_VALUES = 100_000


def check_size(config: Any) -> None:
    """Raise ConfigError when ``config`` stands for more than MAX_CONFIG_VALUES
    values once its YAML aliases are expanded (counted without expanding: a
    container met again is counted from memory)."""
    counted: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (Mapping, list, tuple)):
            return 1
        if id(node) not in counted:
            children = node.values() if isinstance(node, Mapping) else node
            counted[id(node)] = 1 + sum(size(child) for child in children)
        return counted[id(node)]

    total = size(config)
    if total > MAX_CONFIG_VALUES:
        raise ConfigError(f"the config stands for {total:.3g} values once its YAML aliases (*name) "
                          f"are expanded, more than {MAX_CONFIG_VALUES}: write the values out")


def _problem(err: jsonschema.ValidationError, where: Iterable[Any] | None = None) -> str:
    """``key.path: what is wrong (what is allowed)`` in one line."""
    where = ".".join(map(str, err.absolute_path if where is None else where)) or "config"
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    if err.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = sorted(set(err.instance) - set(allowed))
        return (f"{where}: unknown key {cut(', '.join(map(repr, unknown)))}"
                + (f" (allowed: {', '.join(allowed)})" if allowed else ""))
    if err.validator == "enum":
        return f"{where}: {cut(repr(err.instance))} is not allowed (one of: {', '.join(map(str, err.validator_value))})"
    if err.validator == "pattern":
        return f"{where}: {cut(repr(err.instance))} does not match {err.validator_value}"
    return f"{where}: {cut(err.message)}"


def _without_defaults(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def _set_defaults(validator, properties, instance, schema) -> Iterator[jsonschema.ValidationError]:
    for name, sub in properties.items():
        if "default" in sub and isinstance(instance, dict):
            instance.setdefault(name, copy.deepcopy(sub["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](
        validator, properties, instance, schema)


_Defaults = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                         {"properties": _set_defaults})


def check_name(where: str, name: Any) -> None:
    """A video, identity or swap name that is safe as a folder and file name."""
    problem = (
        "is not text" if not isinstance(name, str)
        else "is reserved" if name in RESERVED
        else "is longer than 64 characters" if len(name) > 64
        else "may hold only letters, digits, '_', '.', '-' and must start with a letter or digit"
        if not NAME.fullmatch(name)
        else f"ends like a file name ({name[name.rfind('.'):]}) and would clash with the "
             "workflow's own files" if name.lower().endswith(FILE_SUFFIXES)
        else None)
    if problem:
        raise ConfigError(f"{where}: the name {cut(repr(name))} {problem}")


def check_config(config: Mapping, configfiles: Iterable[str | Path] = ()) -> None:
    """Check names and the names that sections use to refer to each other."""
    for path in configfiles:
        check_duplicate_keys(path)
    videos = config["videos"]
    identities = config["identities"]
    for name in videos:
        check_name("videos", name)
    for person, ident in identities.items():
        check_name("identities", person)
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
        check_name("swaps", swap["name"])
        for role in ("face", "target"):
            if swap[role] not in identities:
                raise ConfigError(f"swaps.{swap['name']}.{role}: '{swap[role]}' is not in "
                                  f"identities (known: {', '.join(identities)})")
        if swap["face"] == swap["target"]:
            raise ConfigError(f"swaps.{swap['name']}: face and target are the same identity")
        face_videos = set(identities[swap["face"]]["videos"]) - set(identities[swap["target"]]["videos"])
        for name in swap.get("videos", []):
            if name not in videos:
                raise ConfigError(f"swaps.{swap['name']}.videos: '{name}' is not in videos")
            if name in face_videos:  # the face onto itself: what face == target refuses
                raise ConfigError(f"swaps.{swap['name']}.videos: '{name}' is a video of the face "
                                  f"identity '{swap['face']}'; a swap puts that face onto other videos")


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

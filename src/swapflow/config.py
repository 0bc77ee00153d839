"""Checks of the workflow config that a JSON schema cannot express."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from swapflow.video import VideoError, read_header


class ConfigError(ValueError):
    """A config that cannot run; the message names the file or key."""


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

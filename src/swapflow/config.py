"""The workflow config: schema validation with defaults, and the checks a schema cannot express."""

from __future__ import annotations

import copy
import importlib
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from swapflow.detectors import DETECTORS, NONE
from swapflow.io import InputError, check_regular, load_yaml
from swapflow.occlusion import OCCLUSIONS
from swapflow.readme_tables import readme_tables
from swapflow.schema import ConfigError, check_size, cut, problem, with_sections
from swapflow.video.ffmpeg import VideoError, read_header

# What a user's own config (``--configfile``) defines alone: the demo's are not mixed in.
INPUT_KEYS = ("videos", "identities", "swaps")
# Sections that a swap may override for itself.
SWAP_SECTIONS = ("train", "convert", "merge")
# Names become folder and file names: a plain word, not too long for a path, not
# ending like a file the workflow writes next to it (a swap "summary.tsv" would be
# the folder of results/evaluate/summary.tsv), not a reserved name.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.~+-]*")
NAME_LIMIT = 64  # characters; an experiment's swap names (made, not typed) may be longer
POINT_NAME_LIMIT = 128
FILE_SUFFIXES = (".json", ".tsv", ".jpg", ".png", ".parquet", ".npz", ".mp4", ".yaml", ".log")
RESERVED = {"passthrough"}
# Keys renamed so that each word means one thing: old key path -> new one. A config
# using the old name still works for this release (with a line saying so).
RENAMED = {"extract.coverage": "extract.crop_fraction", "coverage": "pose_coverage",
           "extract.range": "extract.mediapipe.range", "extract.tiling": "extract.mediapipe.tiling",
           # each occlusion source owns its settings (convert.<source>)
           "convert.hand_dilate": "convert.hands.dilate", "mask.hand_confidence": "convert.hands.confidence",
           "convert.occlusion_threshold": "convert.reconstruction.threshold",
           "convert.occlusion_usual": "convert.reconstruction.usual",
           "convert.occlusion_frames": "convert.reconstruction.frames",
           "convert.skin_threshold": "convert.skin.threshold",
           # evaluate's faces are named by what they are, as curve.swap_faces
           "evaluate.max_faces": "evaluate.swap_faces"}


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


def load_plugins() -> None:
    """Import the stages' settings and every built-in plugin: they declare the
    settings sections (a plugin with options, its own)."""
    importlib.import_module("swapflow.settings")
    DETECTORS.load_all()
    OCCLUSIONS.load_all()


def load_schema(path: str | Path) -> dict:
    """The workflow's schema file with the sections of ``swapflow.settings`` (the
    plugins' too) added; ``extract.detector`` takes the registered detectors
    (``second_detector`` also ``none``)."""
    load_plugins()
    schema = with_sections(load_yaml(path))
    detect = schema["properties"]["extract"]["properties"]
    detect["detector"]["enum"] = DETECTORS.names
    detect["second_detector"]["enum"] = [*DETECTORS.names, NONE]
    return schema


def rename_old_keys(config: dict) -> None:
    """Move each key of RENAMED that ``config`` still uses to its new name (in the
    sections, in each swap's and experiment's own sections, and in grids), with
    one line on stderr per old key; a config giving both names is refused."""
    _rename_in(config, "")
    for kind in ("swaps", "experiments"):
        for item in config.get(kind) or []:
            if not isinstance(item, dict):
                continue
            where = f"{kind}.{item.get('name')}."
            _rename_in(item, where)
            if kind == "experiments" and isinstance(item.get("grid"), dict):
                _rename_grid(item["grid"], where)


def _rename_grid(grid: dict, where: str) -> None:
    """A grid's old keys renamed in place; every key goes to the end in turn, so the
    grid's order (which names the points) stays."""
    for key in list(grid):
        new = RENAMED.get(key, key)
        if new != key:
            if new in grid:
                _refuse_both(f"{where}grid: {key}", new, key, new)
            _say_renamed(f"{where}grid: {key}", new)
        grid[new] = grid.pop(key)


def _refuse_both(old_shown: str, new_shown: str, old: str, new: str) -> None:
    raise ConfigError(f"{old_shown} and {new_shown} are both given: {old} is the old name of {new}; keep {new} only")


def _say_renamed(old_shown: str, new_shown: str) -> None:
    print(f"swapflow: {old_shown} is now {new_shown}; the old name works until the next release", file=sys.stderr)


def _rename_in(root: dict, where: str) -> None:
    for old, new in RENAMED.items():
        *path, old_key = old.split(".")
        *new_path, new_key = new.split(".")
        parent = root
        for key in path:
            parent = parent.get(key) if isinstance(parent, Mapping) else None
        if not isinstance(parent, dict) or old_key not in parent:
            continue
        home = root
        for key in new_path:
            home = home.setdefault(key, {}) if isinstance(home, dict) else None
        if not isinstance(home, dict):
            continue  # the schema names what is wrong
        if new_key in home:
            _refuse_both(f"{where}{old}", f"{where}{new}", old, new)
        home[new_key] = parent.pop(old_key)
        _say_renamed(f"{where}{old}", f"{where}{new}")


def validate_config(config: dict, schema: Mapping) -> None:
    """Check ``config`` against the JSON ``schema`` (``load_schema``'s), then fill
    in its defaults. Keys renamed in this release move to their new names first.

    Each swap's own ``train``/``convert``/``merge`` is checked against the global
    section's keys and types without filling defaults (the global values apply).
    Every problem is one line of the ConfigError, naming the key path and what
    is allowed there.
    """
    check_size(config)
    rename_old_keys(config)
    problems = [problem(err) for err in jsonschema.Draft202012Validator(schema).iter_errors(config)]
    for swap in config.get("swaps") or []:
        if isinstance(swap, Mapping):
            problems += swap_problems(swap, schema, "swaps")
    if problems:
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    _Defaults(schema).validate(config)


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


def check_name(where: str, name: Any, limit: int = NAME_LIMIT) -> None:
    """A video, identity or swap name that is safe as a folder and file name."""
    problem = (
        "is not text" if not isinstance(name, str)
        else "is reserved" if name in RESERVED
        else f"is longer than {limit} characters" if len(name) > limit
        else "may hold only letters, digits, '_', '.', '~', '+', '-' and must start with a letter or digit"
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
        for still in ident.get("references") or []:
            try:  # a FIFO would hang the reference job, even a dry run's checks would not
                check_regular(still)
            except InputError as err:
                raise ConfigError(f"identities.{person}.references: {err}") from None
    if config["mask"]["faceset_mask"] not in config["mask"]["types"]:
        raise ConfigError(f"mask.faceset_mask: '{config['mask']['faceset_mask']}' is not one of "
                          f"mask.types ({', '.join(config['mask']['types'])})")
    names = [swap["name"] for swap in config["swaps"]]
    for name in {n for n in names if names.count(n) > 1}:
        raise ConfigError(f"swaps: the name '{name}' is used by more than one swap")
    for swap in config["swaps"]:
        check_name("swaps", swap["name"], POINT_NAME_LIMIT if "experiment" in swap else NAME_LIMIT)
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


def swap_problems(swap: Mapping, schema: Mapping, where: str) -> list[str]:
    """One line per value of a swap's own sections that the global section's
    schema refuses (its defaults not filled in: the global values apply)."""
    problems = []
    for section in SWAP_SECTIONS:
        rules = _without_defaults(schema["properties"][section])
        for err in jsonschema.Draft202012Validator(rules).iter_errors(swap.get(section) or {}):
            problems.append(problem(err, [where, swap.get("name"), section, *err.absolute_path]))
    hands = (swap.get("convert") or {}).get("hands")
    if isinstance(hands, Mapping) and "confidence" in hands:
        problems.append(f"{where}.{swap.get('name')}.convert.hands.confidence: hands are tracked once a video "
                        "for every swap (rule hands); set it in the global convert section")
    return problems


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


def other_run(config: Mapping[str, Any], record: str | Path) -> str | None:
    """For ``snakemake --report``, which reports on what ``config`` plans: a line
    saying that ``record`` (results/config.yaml, the config of the last run)
    differs from ``config`` (without the swaps experiments made), naming the
    sections that differ and what to pass instead; None when they agree, or
    there is no record."""
    path = Path(record)
    if not path.is_file():
        return None
    ran = yaml.safe_load(path.read_text()) or {}
    given = dict(config) | {"swaps": [s for s in config.get("swaps", []) if "experiment" not in s]}
    given = json.loads(json.dumps(given, default=list))  # tuples as YAML reads them back: lists
    differ = sorted(k for k in set(ran) | set(given) if ran.get(k) != given.get(k))
    if not differ:
        return None
    return (f"{path} records a run of another config (it differs in: {', '.join(differ)}); a report "
            "shows what the config it is given plans, so pass that run's config again: "
            "snakemake --report report.html --configfile <the run's file>")


def main(argv: list[str]) -> int:
    """``python -m swapflow.config [--check] README``: rewrite the README's
    settings tables from the fields (``--check``: say whether they differ)."""
    check = "--check" in argv
    paths = [Path(arg) for arg in argv if arg != "--check"]
    if len(paths) != 1:
        print("usage: python -m swapflow.config [--check] config/README.md", file=sys.stderr)
        return 2
    load_plugins()
    old = paths[0].read_text()
    new = readme_tables(old, paths[0].parent)
    if check:
        if new != old:
            print(f"{paths[0]}: settings tables differ from swapflow.settings; run "
                  f"python -m swapflow.config {paths[0]}", file=sys.stderr)
        return int(new != old)
    if new != old:
        paths[0].write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


"""What a validated config plans, read from the config alone: its swaps' names and
videos, each stage's settings, what a video's faceset is made from, and the models
(which swaps share one, by what they train on and with).

The workflow calls this when it is parsed (``workflow/rules/common.smk``); nothing
here knows of Snakemake, so a plan is tested, and read, without it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from swapflow import demo, model_folder
from swapflow.io import InputError
from swapflow.settings import (
    AlignConfig,
    ConvertConfig,
    CurateConfig,
    DetectConfig,
    FacesetConfig,
    MaskConfig,
    MergeConfig,
    TrackConfig,
    TrainJobConfig,
)
from swapflow.schema import ConfigError, config_fields, section_values
from swapflow.train.config import check_same_architecture, process_share
from swapflow.video.probe import content_hash, source_digest

DEMO_DIR = Path("resources/demo")  # where the demo clips are fetched (rule demo_data)
MODEL_DIR = Path("results/model")  # where rule train writes each model's folder
PASSTHROUGH = "passthrough"  # the swap name of a split-then-merge round trip: no swap of its own

Compose = Callable[[str, tuple[str, ...]], dict]  # (preset, overrides) -> the composed training config


def videos_to_check(videos: Mapping[str, str], probe_dir: str | Path = "results/probe") -> dict[str, str]:
    """Videos not split yet, or changed since: only these are read before the run,
    so a no-op run of a big project stays fast. Demo files may still be fetched."""
    todo = {}
    for name, path in videos.items():
        probe, source = Path(probe_dir, f"{name}.json"), Path(path)
        if source.parent == DEMO_DIR and not source.exists():
            continue
        if not probe.exists() or not source.exists() or source.stat().st_mtime > probe.stat().st_mtime:
            todo[name] = path
    return todo


class Sealed(dict):
    """Settings a rule passes its script: a plain dict to the script, and only
    their digest as text. Snakemake writes a job's params as text, unescaped,
    into the report's HTML, so a user string there (a path, a watermark) could
    run as script in the report. ``repr`` is the digest too: Snakemake records
    it to decide reruns and prints it in a rerun's reason ("Params have
    changed"), which would otherwise hold the whole settings twice per job."""

    def __str__(self) -> str:
        text = json.dumps(self, sort_keys=True, default=repr)
        return f"sealed:{hashlib.sha256(text.encode()).hexdigest()[:20]}"

    __repr__ = __str__



class Plan:
    """The plan of one validated ``config`` (defaults filled in, experiments
    expanded into swaps); ``compose`` composes a training config."""

    def __init__(self, config: Mapping[str, Any], compose: Compose) -> None:
        self.config = config
        self.compose = cache(compose)
        self.video_provenance = cache(self.video_provenance)  # hashing a video is slow
        self.plan_models()

    # ---- names ------------------------------------------------------------------

    def swap(self, name: str) -> dict:
        return next(s for s in self.config["swaps"] if s["name"] == name)

    def swap_videos(self, swap: Mapping) -> list[str]:
        """The videos a swap converts: its own list, else all its target's."""
        return swap.get("videos") or self.config["identities"][swap["target"]]["videos"]

    def swap_video_names(self) -> list[str]:
        """``swap/video`` for every video of every swap."""
        return [f"{s['name']}/{v}" for s in self.config["swaps"] for v in self.swap_videos(s)]

    def swap_identities(self, name: str) -> tuple[str, str]:
        """A swap's face (A) and target (B) identities."""
        swap = self.swap(name)
        return swap["face"], swap["target"]

    def coverage_file(self, name: str, suffix: str) -> str:
        """The coverage output (``suffix`` .png, .tsv or .json) of a ``swap/video``:
        one per face identity and video, shared by the swaps that differ in neither."""
        swap, video = name.split("/")
        return f"results/coverage/{self.swap(swap)['face']}/{video}{suffix}"

    def training_videos(self) -> list[str]:
        """The videos of every identity: those a faceset is made of."""
        return sorted({v for ident in self.config["identities"].values() for v in ident["videos"]})

    def curation_outputs(self) -> list[str]:
        """The contact sheets and curation counts of the training videos (videos only
        converted need no faceset), and the pose coverage of every swapped video."""
        sheets = [f"results/faceset/{video}{part}" for video in self.training_videos()
                  for part in (".jpg", ".removed.jpg", ".curation.tsv")]
        return sheets + sorted({self.coverage_file(name, ".png") for name in self.swap_video_names()})

    def all_outputs(self, experiments: Mapping[str, Any]) -> list[str]:
        """Every swap's output videos with their provenance and metrics, the summary,
        the model table, each experiment's table, and what curation_outputs lists."""
        names = self.swap_video_names()
        outputs = [f"results/swap/{name}.mp4" for name in names]
        outputs += [f"results/provenance/{name}.json" for name in names]
        outputs += ["results/config.yaml", "results/models.tsv"]
        if self.config["evaluate"]["enabled"]:
            outputs += [f"results/evaluate/{name}.json" for name in names]
            outputs += ["results/evaluate/summary.tsv"]
            outputs += [f"results/experiments/{name}/table.tsv" for name in experiments]
        return outputs + self.curation_outputs()

    def given_config(self) -> dict:
        """The config as given: without the swaps that experiments made."""
        return dict(self.config) | {"swaps": [s for s in self.config["swaps"] if "experiment" not in s]}

    def experiment_points(self, points: list[dict]) -> dict:
        """{rows: one per swap and video of an experiment's ``points`` (swap, video,
        seed, the swept settings, a list as text), settings: the swept settings' labels}."""
        rows = []
        for point in points:
            swept = {label: " ".join(map(str, value)) if isinstance(value, list) else value
                     for label, value in point["settings"].items()}
            for video in self.swap_videos(self.swap(point["swap"])):
                rows.append({"swap": point["swap"], "video": video, "seed": point["seed"]} | swept)
        return {"rows": rows, "settings": list(points[0]["settings"])}

    # ---- settings ---------------------------------------------------------------

    def settings(self, cls: type, swap: str | Mapping | None = None) -> dict:
        """The keys a stage reads (the fields of the swapflow.settings dataclass
        ``cls``) from their config section, with the own keys of ``swap`` (a swap or
        its name; passthrough has none) on top: its ``train.overrides`` come after
        the global ones."""
        if isinstance(swap, str):
            swap = None if swap == PASSTHROUGH else self.swap(swap)
        return section_values(cls, _section(self.config, cls.section), _section(swap or {}, cls.section))

    def is_pictures(self, video: str) -> bool:
        """Whether a video is a folder of stills."""
        return Path(self.config["videos"][video]).is_dir()

    def references(self, video: str) -> list[str]:
        """The identities that a video shows and whose reference stills pick their face in it."""
        return [name for name, ident in self.config["identities"].items()
                if video in ident["videos"] and ident["references"]]

    def frame_quality(self) -> dict:
        """How frames are written: the format and its quality (not the other format's)."""
        frames = self.config["frames"]
        quality = "png_compression" if frames["format"] == "png" else "jpeg_quality"
        return {"format": frames["format"], quality: frames[quality]}

    def frames_settings(self, video: str) -> dict:
        """Split settings that matter for this video: the frame quality, and the rate
        of a folder of stills or what to do with a damaged video file."""
        key = "stills_fps" if self.is_pictures(video) else "accept_damaged"
        return self.frame_quality() | {key: self.config["frames"][key]}

    def detection(self) -> dict:
        """The detect keys of a video, with the detectors' own settings
        (``extract.<detector>``); ``stills_max_faces`` is a folder of stills'
        ``max_faces`` (detect_settings)."""
        cfg = self.settings(DetectConfig)
        cfg.pop("stills_max_faces")
        own = self.config["extract"]
        return cfg | {"options": own.get(cfg["detector"], {}),
                      "second_options": own.get(cfg["second_detector"], {})}

    def detect_settings(self, video: str) -> dict:
        """Detection and landmark settings; embeddings are on where references pick
        faces. The second detector runs here on pictures; on video, rule align runs it."""
        cfg = self.detection()
        cfg["embeddings"] = cfg["embeddings"] or bool(self.references(video))
        if self.is_pictures(video):
            return cfg | {"pictures": True, "max_faces": self.settings(DetectConfig)["stills_max_faces"]}
        return {k: v for k, v in cfg.items() if k not in ("second_detector", "second_options")}

    def lost_faces(self, video: str) -> dict:
        """What the align step recovers lost faces with (swapflow.track): nothing in a
        folder of stills, whose pictures are not frames of one scene."""
        if self.is_pictures(video):
            return {"track": {"max_gap": 0, "search": 0}}
        detect = self.detection()
        detect["embeddings"] = detect["embeddings"] or bool(self.references(video))
        return {"detect": detect, "track": self.settings(TrackConfig)}

    def reference_settings(self) -> dict:
        """What finds the face in reference stills: the detection keys that apply to a
        still, and the detectors' own settings."""
        cfg = self.detection()
        stills = [f.name for f in config_fields(DetectConfig) if f.metadata["stills"]]
        return {key: cfg[key] for key in [*stills, "options", "second_options"]}

    def faceset_recipe(self, video: str) -> dict:
        """Every setting from detection to curation that shapes a video's faceset."""
        return {
            "extract": self.detect_settings(video) | self.settings(AlignConfig),
            "lost_faces": self.lost_faces(video),
            "mask": self.settings(MaskConfig) | self.settings(FacesetConfig),
            "curate": self.settings(CurateConfig),
        }

    # ---- models -----------------------------------------------------------------

    def video_provenance(self, video: str) -> dict:
        """What the faceset of a video is made from: the source's content (not its
        file name) and every setting from split to curation, with the content of the
        reference stills that pick its face. Models are named by these."""
        path = Path(self.config["videos"][video])
        if path.parent == DEMO_DIR and not path.exists():
            source = demo.SHA256[path.name]  # fetched by demo_data: known content
        else:
            source = source_digest(path, f"results/probe/{video}.json")
        stills = [content_hash(still) if Path(still).is_file() else still
                  for ident in self.config["identities"].values() if video in ident["videos"]
                  for still in ident["references"]]
        return {"source": source, "frames": self.frames_settings(video), **self.faceset_recipe(video),
                "references": stills}

    def training_config(self, swap: Mapping) -> dict:
        """train.yaml + preset + overrides of one swap, as plain data; a bad preset
        or override stops the dry run naming the swap."""
        t = self.settings(TrainJobConfig, swap)
        overrides = t["overrides"] + ([f"iterations={t['iterations']}"] if t["iterations"] else [])
        try:
            cfg = self.compose(t["preset"], tuple(overrides))
            process_share(cfg["batch_size"], max(1, t["gpus"]))
        except ConfigError as err:
            raise ConfigError(f"swaps.{swap['name']}.train: {err}") from None
        return cfg

    def plan_models(self) -> tuple[dict[str, dict], dict[str, str]]:
        """{model: identities, composed config, swaps, start} and {swap: model}: swaps
        with the same identities, training data (by content and settings), composed
        config and start share one model; a changed video, faceset setting or start
        names a new one. Swaps that start from no model are planned first, so another
        may start from their model by its name."""
        self.models: dict[str, dict] = {}
        self.swap_model: dict[str, str] = {}
        swaps = self.config["swaps"]
        for swap in sorted(swaps, key=lambda s: self.settings(TrainJobConfig, s)["start_from"] is not None):
            self._plan_model(swap, ())
        return self.models, self.swap_model

    def _plan_model(self, swap: Mapping, chain: tuple[str, ...]) -> str:
        """Plan (once) the model of ``swap``, first the model it starts from;
        ``chain``: the swaps whose start led here."""
        if swap["name"] in self.swap_model:
            return self.swap_model[swap["name"]]
        cfg = self.training_config(swap)
        ids = (swap["face"], swap["target"])
        data = {i: [self.video_provenance(v) for v in self.config["identities"][i]["videos"]] for i in ids}
        start = self.start(swap, cfg, chain + (swap["name"],))
        name = model_name(ids, data, cfg, start and {k: start[k] for k in ("digest", "freeze_encoder")})
        self.models.setdefault(name, {"identities": ids, "config": cfg, "swaps": [], "start": start})
        self.models[name]["swaps"].append(swap["name"])
        self.swap_model[swap["name"]] = name
        return name

    def start(self, swap: Mapping, cfg: Mapping, chain: tuple[str, ...]) -> dict | None:
        """What the model of ``swap`` starts from (``train.start_from``): {model, folder,
        digest (the source's name when this config plans it, else its weights' sha256),
        freeze_encoder}; None when it starts afresh. A source that is missing, of
        another architecture or in a cycle stops the dry run naming the swap."""
        t = self.settings(TrainJobConfig, swap)
        where = f"swaps.{swap['name']}.train"
        if t["start_from"] is None:
            if t["freeze_encoder"]:
                raise ConfigError(f"{where}.freeze_encoder: {t['freeze_encoder']} freezes an encoder that "
                                  "start_from would copy, and start_from is not set")
            return None
        value = t["start_from"]
        source = next((s for s in self.config["swaps"] if s["name"] == value), None)
        folder = Path(value) if "/" in value else MODEL_DIR / value
        if source is not None:
            if value in chain:
                raise ConfigError(f"{where}.start_from: a cycle: {' -> '.join(chain + (value,))}")
            folder = MODEL_DIR / self._plan_model(source, chain)
        if folder.parent == MODEL_DIR and folder.name in self.models:
            planned = self.models[folder.name]
            digest, source_cfg, ids = folder.name, planned["config"], planned["identities"]
        else:
            try:
                ids = tuple(model_folder.read_manifest(folder)["identities"].values())
                source_cfg = model_folder.training_config(folder)
                digest = content_hash(folder / model_folder.WEIGHTS)
            except (InputError, OSError) as err:
                raise ConfigError(f"{where}.start_from: {value!r} is no swap of this config and no finished "
                                  f"model ({err})") from None
        check_same_architecture(source_cfg["model"], cfg["model"], f"{where}.start_from: model {folder.name}",
                                f"this swap's {swap['face']}-{swap['target']}-{cfg['preset']} model")
        return {"model": folder.name, "folder": str(folder), "digest": digest, "identities": list(ids),
                "freeze_encoder": t["freeze_encoder"]}

    def convert_settings(self, swap: str) -> dict:
        """Convert's keys with the chosen occlusion sources' own settings
        (``convert.<source>``), the swap's own on top."""
        cfg = self.settings(ConvertConfig, swap)
        own = {} if swap == PASSTHROUGH else self.swap(swap).get("convert") or {}
        sources = {name: {**self.config["convert"].get(name, {}), **(own.get(name) or {})}
                   for name in cfg["occlusion"] if name in self.config["convert"]}
        return cfg | {"sources": sources}

    def hand_tracking(self) -> dict:
        """What rule hands tracks with: the ``hands`` source's confidence (once a video, for every swap)."""
        return {"confidence": self.config["convert"]["hands"]["confidence"]}

    def swap_settings(self, name: str) -> dict:
        """What a swap output was made with after extraction: model, training and
        the swap's own convert and merge settings, keyed as the config's (for the
        summary and provenance)."""
        model = self.swap_model[name]
        t = self.settings(TrainJobConfig, name)
        convert = self.convert_settings(name)
        convert |= convert.pop("sources")  # convert.<source>.<key>, as the config writes it
        return {"model": model, "preset": t["preset"], "iterations": self.models[model]["config"]["iterations"],
                "overrides": " ".join(t["overrides"]), "convert": convert,
                "merge": self.settings(MergeConfig, name)}

    def coverage_mirror(self, identity: str, video: str) -> bool:
        """Whether A's mirrored faces count in a coverage: every model that swaps the
        identity onto the video trains with ``data.flip`` (then each sees those poses)."""
        flips = [self.models[self.swap_model[s["name"]]]["config"]["data"]["flip"] for s in self.config["swaps"]
                 if s["face"] == identity and video in self.swap_videos(s)]
        return bool(flips) and all(flips)


def _section(values: Mapping | None, name: str) -> Mapping | None:
    """The section ``name`` (dotted for a nested one: ``extract.track``) of ``values``; None if absent."""
    for key in name.split("."):
        values = values.get(key) if values else None
    return values


def model_name(identities: Sequence[str], data: Mapping[str, Sequence[Any]], cfg: Mapping,
               start: Mapping | None = None) -> str:
    """``<face>-<target>-<preset>-<hash>``: a model named by what it is trained on
    (the identities and, per identity, what its facesets are made from: ``data``),
    with (the composed config ``cfg``) and from (``start``: the source model's
    digest and how long its encoder stays frozen; absent when it starts afresh), so
    swaps that differ only after training share it and any change names a new one."""
    what = {"identities": list(identities), "data": {k: list(v) for k, v in data.items()},
            "config": cfg} | ({"start": dict(start)} if start else {})
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:10]
    return f"{'-'.join(identities)}-{cfg['preset']}-{digest}"

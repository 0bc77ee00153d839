import os
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from swapflow import demo
from swapflow.config import check_config, check_videos
from swapflow.io import read_json
from swapflow.pipeline import shard_count
from swapflow.video.probe import content_hash, outdate_changed, source_digest
from swapflow.settings import (
    AlignConfig,
    ConfigError,
    ConvertConfig,
    ConvertJobConfig,
    CoverageConfig,
    CurateConfig,
    DetectConfig,
    EvaluateConfig,
    FacesetConfig,
    HandsConfig,
    MaskConfig,
    MergeConfig,
    Sealed,
    TrackConfig,
    TrainJobConfig,
    config_fields,
    section_values,
)
from swapflow.train.config import (
    compose_config,
    model_name,
    process_share,
    schedule_length,
)

check_config(config, workflow.configfiles)

DEMO_DIR = "resources/demo"
MISSING_DEMO = [
    f"{DEMO_DIR}/{name}" for name in demo.FILES if not Path(DEMO_DIR, name).exists()
]


def unchecked_videos():
    """Videos not split yet, or changed since: only these are read before the run,
    so a no-op run of a big project stays fast. Demo files may still be fetched."""
    todo = {}
    for name, path in config["videos"].items():
        probe = Path(f"results/probe/{name}.json")
        if Path(path).parent == Path(DEMO_DIR) and not Path(path).exists():
            continue
        if (
            not probe.exists()
            or not Path(path).exists()
            or (Path(path).stat().st_mtime > probe.stat().st_mtime)
        ):
            todo[name] = path
    return todo


check_videos(unchecked_videos())
# a source whose content changed since its split is split again, whatever its mtime
outdate_changed(config["videos"], "results/probe")


# ---- training configs and models, composed once at parse time ----------------


def compose_training(swap):
    """train.yaml + preset + overrides of one swap, as plain data; a bad preset
    or override stops the dry run naming the swap."""
    t = settings(TrainJobConfig, swap)
    overrides = t["overrides"] + (
        [f"iterations={t['iterations']}"] if t["iterations"] else []
    )
    try:
        cfg = composed(t["preset"], tuple(overrides))
        process_share(cfg["batch_size"], max(1, t["gpus"]))
    except ConfigError as err:
        raise ConfigError(f"swaps.{swap['name']}.train: {err}") from None
    return cfg


@cache
def composed(preset, overrides):
    """One Hydra composition per distinct preset and overrides (swaps often share them)."""
    cfg = compose_config(train_config_dir(preset), preset, list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def train_config_dir(preset):
    """The folder of train.yaml and model/<preset>.yaml: config/ beside the
    workflow/ folder of the Snakefile. A workflow read from a git host (a module
    after snakedeploy) has the two files fetched into Snakemake's source cache, in
    the same layout."""
    if isinstance(WORKFLOW_DIR, os.PathLike):
        return Path(WORKFLOW_DIR).parent / "config"
    model = WORKFLOW_DIR.join(f"../config/model/{preset}.yaml")
    if not workflow.sourcecache.exists(model):
        raise ConfigError(f"unknown preset {preset!r}: there is no {model}")
    workflow.sourcecache.get_path(WORKFLOW_DIR.join("../config/train.yaml"))
    return Path(workflow.sourcecache.get_path(model)).parents[1]


# ---- inputs -------------------------------------------------------------------


def video_path(wildcards):
    return config["videos"][wildcards.video]


def video_references(wildcards):
    """The references of the identities that a video shows and whose stills
    pick their face in it."""
    return [
        f"results/reference/{name}.json"
        for name, ident in config["identities"].items()
        if wildcards.video in ident["videos"] and ident["references"]
    ]


def reference_stills(wildcards):
    return config["identities"][wildcards.identity]["references"]


def shards(video, size):
    """The shard numbers of a video cut into jobs of ``size`` frames: known once it
    is split."""
    probe = checkpoints.split_frames.get(video=video).output.probe
    return range(shard_count(read_json(probe)["frames"], size))


def detect_shards(wildcards):
    """One detection job per ``extract.shard_size`` frames."""
    return expand(
        "results/detect/{video}/{shard}.parquet",
        video=wildcards.video,
        shard=shards(wildcards.video, config["extract"]["shard_size"]),
    )


def merge_frames(wildcards):
    """Frames that merge encodes: the converted shards, or the originals for passthrough."""
    if wildcards.swap == "passthrough":
        return [f"results/frames/{wildcards.video}"]
    return expand(
        "results/convert/{swap}/{video}/{shard}",
        swap=wildcards.swap,
        video=wildcards.video,
        shard=shards(wildcards.video, convert_shard_size(wildcards)),
    )


def convert_side_outputs(wildcards):
    """The patches and outlines of every convert shard of every swap: targets of
    their own (nothing after convert reads the patches), so a run cut off after
    a --forcerun removed them makes them again."""
    outputs = []
    for name in swap_video_names():
        swap, video = name.split("/")
        for shard in shards(video, convert_shard_size(SimpleNamespace(swap=swap))):
            outputs += [
                f"results/patches/{swap}/{video}/{shard}",
                f"results/outlines/{swap}/{video}/{shard}.parquet",
            ]
    return outputs


def convert_outlines(wildcards):
    """The final mask outlines of every convert shard of a swapped video."""
    return expand(
        "results/outlines/{swap}/{video}/{shard}.parquet",
        swap=wildcards.swap,
        video=wildcards.video,
        shard=shards(wildcards.video, convert_shard_size(wildcards)),
    )


def identity_facesets(identity):
    return expand(
        "results/faceset/{video}", video=config["identities"][identity]["videos"]
    )


def model_facesets(side):
    """Input function: the facesets of the model's face (side 0) or target (side 1)."""
    return lambda wildcards: identity_facesets(
        MODELS[wildcards.model]["identities"][side]
    )


def swap_model(wildcards):
    return f"results/model/{SWAP_MODEL[wildcards.swap]}"


def swap_facesets(role):
    """Input function: the facesets of the swap's ``face`` or ``target`` identity."""
    return lambda wildcards: identity_facesets(swap_by_name(wildcards.swap)[role])


# ---- params: exactly the settings each script reads ----------------------------


def sealed(values):
    """Params for the report's rules (those whose outputs go into it): the script
    reads a dict, Snakemake's report page shows only a digest (it writes params
    unescaped into its HTML), and the rerun check records and prints that digest.
    ``values``: a dict or an input function giving one."""
    if callable(values):
        return lambda wildcards: Sealed(values(wildcards))
    return Sealed(values)


def settings(cls, swap=None):
    """The keys a stage reads (the fields of the swapflow.settings dataclass
    ``cls``) from their config section, with the own keys of ``swap`` (a swap or
    its name; passthrough has none) on top: its ``train.overrides`` come after
    the global ones."""
    if isinstance(swap, str):
        swap = None if swap == "passthrough" else swap_by_name(swap)
    return section_values(
        cls,
        config_section(config, cls.section),
        config_section(swap or {}, cls.section),
    )


def config_section(values, name):
    """The section ``name`` (dotted for a nested one: ``extract.track``) of ``values``; None if absent."""
    for key in name.split("."):
        values = values.get(key) if values else None
    return values


def frame_quality():
    """How frames are written: the format and its quality (not the other format's)."""
    frames = config["frames"]
    quality = "png_compression" if frames["format"] == "png" else "jpeg_quality"
    return {"format": frames["format"], quality: frames[quality]}


def frames_settings(wildcards):
    """Split settings that matter for this video: the frame quality, and the rate
    of a folder of stills or what to do with a damaged video file."""
    key = "stills_fps" if Path(video_path(wildcards)).is_dir() else "accept_damaged"
    return frame_quality() | {key: config["frames"][key]}


def detection():
    """The detect keys, with the detectors' own settings (``extract.<detector>``)."""
    cfg = settings(DetectConfig)
    own = config["extract"]
    return cfg | {
        "options": own.get(cfg["detector"], {}),
        "second_options": own.get(cfg["second_detector"], {}),
    }


def is_pictures(wildcards):
    """Whether a video is a folder of stills."""
    return Path(video_path(wildcards)).is_dir()


def detect_settings(wildcards):
    """Detection and landmark settings; embeddings are on where references pick
    faces. The second detector runs here on pictures; on video, rule align runs it."""
    cfg = detection()
    cfg["embeddings"] = cfg["embeddings"] or bool(video_references(wildcards))
    if is_pictures(wildcards):
        return cfg | {"pictures": True}
    return {
        key: value
        for key, value in cfg.items()
        if key not in ("second_detector", "second_options")
    }


def lost_faces(wildcards):
    """What the align step recovers lost faces with (swapflow.track): nothing in a
    folder of stills, whose pictures are not frames of one scene."""
    if is_pictures(wildcards):
        return {"track": {"max_gap": 0, "search": 0}}
    detect = detection()
    detect["embeddings"] = detect["embeddings"] or bool(video_references(wildcards))
    return {"detect": detect, "track": settings(TrackConfig)}


def reference_settings(wildcards):
    """What finds the face in reference stills: the detection keys that apply to a
    still, and the detectors' own settings."""
    cfg = detection()
    stills = [f.name for f in config_fields(DetectConfig) if f.metadata["stills"]]
    return {key: cfg[key] for key in [*stills, "options", "second_options"]}


def coverage_mirror(wildcards):
    """Whether A's mirrored faces count: every model that swaps the identity onto
    the video trains with ``data.flip`` (then each sees those poses)."""
    flips = [
        MODELS[SWAP_MODEL[s["name"]]]["config"]["data"]["flip"]
        for s in config["swaps"]
        if s["face"] == wildcards.identity and wildcards.video in swap_videos(s)
    ]
    return bool(flips) and all(flips)


def faceset_recipe(wildcards):
    """Every setting from detection to curation that shapes a video's faceset."""
    return {
        "extract": detect_settings(wildcards) | settings(AlignConfig),
        "lost_faces": lost_faces(wildcards),
        "mask": settings(MaskConfig) | settings(FacesetConfig),
        "curate": settings(CurateConfig),
    }


def model_config(wildcards):
    """The composed training config of a model (what ``train`` depends on)."""
    return MODELS[wildcards.model]["config"]


def model_resources(key):
    """A ``train`` resource of a model, from the first swap that uses it."""
    return lambda wildcards: settings(
        TrainJobConfig, MODELS[wildcards.model]["swaps"][0]
    )[key]


def convert_hands(wildcards):
    """Input function: the video's tracked hands where the swap cuts hands out of its mask."""
    if "hands" in settings(ConvertConfig, wildcards.swap)["occlusion"]:
        return f"results/hands/{wildcards.video}.parquet"
    return []


def convert_shard_size(wildcards):
    """Frames per convert job of the swap."""
    return settings(ConvertJobConfig, wildcards.swap)["shard_size"]


def swap_identities(wildcards):
    swap = swap_by_name(wildcards.swap)
    return swap["face"], swap["target"]


def swap_settings(name):
    """What a swap output was made with after extraction: model, training and
    the swap's own convert and merge settings (for the summary and provenance)."""
    model = SWAP_MODEL[name]
    t = settings(TrainJobConfig, name)
    return {
        "model": model,
        "preset": t["preset"],
        "iterations": MODELS[model]["config"]["iterations"],
        "overrides": " ".join(t["overrides"]),
        "convert": settings(ConvertConfig, name),
        "merge": settings(MergeConfig, name),
    }


# ---- models: planned once every setting is known ------------------------------


@cache
def video_provenance(video):
    """What the faceset of a video is made from: the source's content (not its
    file name) and every setting from split to curation, with the content of the
    reference stills that pick its face. Models are named by these."""
    path = config["videos"][video]
    if Path(path).parent == Path(DEMO_DIR) and not Path(path).exists():
        source = demo.SHA256[Path(path).name]  # fetched by demo_data: known content
    else:
        source = source_digest(path, f"results/probe/{video}.json")
    stills = [
        content_hash(still) if Path(still).is_file() else still
        for ident in config["identities"].values()
        if video in ident["videos"]
        for still in ident["references"]
    ]
    w = SimpleNamespace(video=video)
    return {
        "source": source,
        "frames": frames_settings(w),
        **faceset_recipe(w),
        "references": stills,
    }


def plan_models():
    """{model: identities, composed config, swaps} and {swap: model}: swaps with the
    same identities, training data (by content and settings) and composed config
    share one model; a changed video or faceset setting names a new one."""
    models, by_swap = {}, {}
    for swap in config["swaps"]:
        cfg = compose_training(swap)
        ids = (swap["face"], swap["target"])
        data = {
            i: [video_provenance(v) for v in config["identities"][i]["videos"]]
            for i in ids
        }
        name = model_name(ids, data, cfg)
        models.setdefault(name, {"identities": ids, "config": cfg, "swaps": []})
        models[name]["swaps"].append(swap["name"])
        by_swap[swap["name"]] = name
    return models, by_swap


MODELS, SWAP_MODEL = plan_models()


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])) or "^$",
    shard=r"\d+",
    swap="|".join(
        map(re.escape, ["passthrough"] + [s["name"] for s in config["swaps"]])
    ),
    model="|".join(map(re.escape, MODELS)) or "^$",
    identity="|".join(map(re.escape, config["identities"])) or "^$",


# ---- job resources: what a job needs anywhere (the site's: profiles/slurm) ------


def runtime(minutes):
    """A job's time limit: ``minutes`` on the first attempt, N times that on attempt N,
    so a job killed at its limit gets more time on the retry."""
    return lambda wildcards, attempt: minutes * attempt


# the defaults of the script jobs: their software (relative to
# workflow/rules/, where the rules are) and what a step on the CPU needs
ENV = "../envs/swapflow.yaml"
STEP = {"runtime": runtime(60), "mem_mb": 4000}


# ---- names ----------------------------------------------------------------------


def swap_by_name(name):
    return next(s for s in config["swaps"] if s["name"] == name)


def coverage_file(name, suffix):
    """The coverage output (``suffix`` .png, .tsv or .json) of a ``swap/video``:
    one per face identity and video, shared by the swaps that differ in neither."""
    swap, video = name.split("/")
    return f"results/coverage/{swap_by_name(swap)['face']}/{video}{suffix}"


def swap_video_names():
    """``swap/video`` for every video of every swap."""
    return [f"{s['name']}/{video}" for s in config["swaps"] for video in swap_videos(s)]


def curation_outputs():
    """The contact sheets and curation counts of the training videos (videos only
    converted need no faceset), and the pose coverage of every swapped video."""
    training = sorted(
        {v for ident in config["identities"].values() for v in ident["videos"]}
    )
    return expand(
        "results/faceset/{video}{part}",
        video=training,
        part=[".jpg", ".removed.jpg", ".curation.tsv"],
    ) + sorted({coverage_file(name, ".png") for name in swap_video_names()})


def all_outputs():
    """Every swap's output videos with their provenance and metrics, the summary,
    the model table, and what curation_outputs lists."""
    names = swap_video_names()
    outputs = expand("results/swap/{name}.mp4", name=names)
    outputs += expand("results/provenance/{name}.json", name=names)
    outputs += ["results/config.yaml", "results/models.tsv"]
    if config["evaluate"]["enabled"]:
        outputs += expand("results/evaluate/{name}.json", name=names)
        outputs += ["results/evaluate/summary.tsv"]
        outputs += expand("results/experiments/{name}.tsv", name=EXPERIMENTS)
    return outputs + curation_outputs()


def experiment_metrics(wildcards):
    """The evaluation of every grid point, seed and video of an experiment."""
    return [
        f"results/evaluate/{row['swap']}/{row['video']}.json"
        for row in experiment_points(wildcards)["rows"]
    ]


def experiment_points(wildcards):
    """{rows: one per swap and video (swap, video, seed, the swept settings, a
    list as text), settings: the swept settings' labels}."""
    rows = []
    for point in EXPERIMENTS[wildcards.experiment]:
        settings = {
            label: " ".join(map(str, value)) if isinstance(value, list) else value
            for label, value in point["settings"].items()
        }
        for video in swap_videos(swap_by_name(point["swap"])):
            rows.append(
                {"swap": point["swap"], "video": video, "seed": point["seed"]}
                | settings
            )
    first = EXPERIMENTS[wildcards.experiment][0]["settings"]
    return {"rows": rows, "settings": list(first)}


def given_config():
    """The config as given: without the swaps that experiments made."""
    return config | {"swaps": [s for s in config["swaps"] if "experiment" not in s]}


def swap_videos(swap):
    return swap.get("videos") or config["identities"][swap["target"]]["videos"]

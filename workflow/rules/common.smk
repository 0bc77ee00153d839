import os
import re
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from swapflow import demo
from swapflow.config import check_config, check_videos
from swapflow.io import read_json
from swapflow.pipeline import shard_count
from swapflow.plan import DEMO_DIR, Plan, Sealed, videos_to_check
from swapflow.video.probe import outdate_changed
from swapflow.settings import (
    AlignConfig,
    ConvertConfig,
    ConvertJobConfig,
    CoverageConfig,
    CurateConfig,
    EvaluateConfig,
    FacesetConfig,
    MaskConfig,
    MergeConfig,
    TrainJobConfig,
)
from swapflow.schema import ConfigError
from swapflow.train.config import compose_config, schedule_length

check_config(config, workflow.configfiles)

MISSING_DEMO = [
    str(DEMO_DIR / name) for name in demo.FILES if not (DEMO_DIR / name).exists()
]


check_videos(videos_to_check(config["videos"]))
# a source whose content changed since its split is split again, whatever its mtime
outdate_changed(config["videos"], "results/probe")


# ---- training configs and models, composed once at parse time ----------------


def composed(preset, overrides):
    """train.yaml + preset + overrides, as plain data (the plan composes each distinct
    preset and overrides once)."""
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


# the models and the names of this config, and each stage's settings (swapflow.plan)
PLAN = Plan(config, composed)
MODELS, SWAP_MODEL = PLAN.models, PLAN.swap_model
settings = PLAN.settings
swap_by_name = PLAN.swap
swap_videos = PLAN.swap_videos
swap_video_names = PLAN.swap_video_names
coverage_file = PLAN.coverage_file


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])) or "^$",
    shard=r"\d+",
    swap="|".join(
        map(re.escape, ["passthrough"] + [s["name"] for s in config["swaps"]])
    ),
    model="|".join(map(re.escape, MODELS)) or "^$",
    identity="|".join(map(re.escape, config["identities"])) or "^$",


# ---- inputs -------------------------------------------------------------------


def video_path(wildcards):
    return config["videos"][wildcards.video]


def video_references(wildcards):
    """The references of the identities that a video shows and whose stills
    pick their face in it."""
    return [
        f"results/reference/{name}.json" for name in PLAN.references(wildcards.video)
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
    return convert_shards("results/convert/{swap}/{video}/{shard}", wildcards)


def convert_shards(pattern, wildcards):
    """``pattern`` for every convert shard of a swapped video."""
    return expand(
        pattern,
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
        w = SimpleNamespace(swap=swap, video=video)
        outputs += convert_shards("results/patches/{swap}/{video}/{shard}", w)
        outputs += convert_shards("results/outlines/{swap}/{video}/{shard}.parquet", w)
    return outputs


def identity_facesets(identity):
    return expand(
        "results/faceset/{video}", video=config["identities"][identity]["videos"]
    )


def model_facesets(side):
    """Input function: the facesets of the model's face (side 0) or target (side 1)."""
    return lambda wildcards: identity_facesets(
        MODELS[wildcards.model]["identities"][side]
    )


def model_start(wildcards):
    """Input function: the model folder that a model starts from (``train.start_from``), if any."""
    start = MODELS[wildcards.model]["start"]
    return start["folder"] if start else []


def model_start_params(wildcards, input):
    """The train rule's start param: the start's folder (its input) and how long its
    encoder stays frozen, {} for a model that starts afresh. Taking ``input`` makes it a
    derived param, which Snakemake does not record: both are in the model's name,
    and models trained before ``start_from`` existed are not planned again."""
    start = MODELS[wildcards.model]["start"]
    return Sealed(
        {"folder": input.start, "freeze_encoder": start["freeze_encoder"]}
        if start
        else {}
    )


def swap_model(wildcards):
    return f"results/model/{SWAP_MODEL[wildcards.swap]}"


def swap_facesets(role):
    """Input function: the facesets of the swap's ``face`` or ``target`` identity."""
    return lambda wildcards: identity_facesets(swap_by_name(wildcards.swap)[role])


def convert_hands(wildcards):
    """Input function: the video's tracked hands where the swap cuts hands out of its mask."""
    if "hands" in settings(ConvertConfig, wildcards.swap)["occlusion"]:
        return f"results/hands/{wildcards.video}.parquet"
    return []


# ---- params: exactly the settings each script reads ----------------------------


def sealed(values):
    """Params for the report's rules (those whose outputs go into it): the script
    reads a dict, Snakemake's report page shows only a digest (it writes params
    unescaped into its HTML), and the rerun check records and prints that digest.
    ``values``: a dict or an input function giving one."""
    if callable(values):
        return lambda wildcards: Sealed(values(wildcards))
    return Sealed(values)


def model_resources(key):
    """A ``train`` resource of a model, from the first swap that uses it."""
    return lambda wildcards: settings(
        TrainJobConfig, MODELS[wildcards.model]["swaps"][0]
    )[key]


def convert_shard_size(wildcards):
    """Frames per convert job of the swap."""
    return settings(ConvertJobConfig, wildcards.swap)["shard_size"]


# ---- job resources: what a job needs anywhere (the site's: profiles/slurm) ------


def runtime(minutes):
    """A job's time limit: ``minutes`` on the first attempt, N times that on attempt N,
    so a job killed at its limit gets more time on the retry."""
    return lambda wildcards, attempt: minutes * attempt


# the defaults of the script jobs: their software (relative to
# workflow/rules/, where the rules are) and what a step on the CPU needs
ENV = "../envs/swapflow.yaml"
STEP = {"runtime": runtime(60), "mem_mb": 4000}


# ---- experiments ------------------------------------------------------------------


def experiment_points(wildcards):
    """The rows and swept settings of an experiment's table (swapflow.plan)."""
    return PLAN.experiment_points(EXPERIMENTS[wildcards.experiment])


def experiment_metrics(wildcards):
    """The evaluation of every grid point, seed and video of an experiment."""
    return [
        f"results/evaluate/{row['swap']}/{row['video']}.json"
        for row in experiment_points(wildcards)["rows"]
    ]

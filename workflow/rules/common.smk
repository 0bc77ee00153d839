import math
import re
from pathlib import Path

from swapflow import demo
from swapflow.config import check_config, check_videos
from swapflow.io import read_json

check_config(config, workflow.configfiles)

DEMO_DIR = "resources/demo"


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


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])) or "^$",
    shard=r"\d+",
    swap="|".join(
        map(re.escape, ["passthrough"] + [s["name"] for s in config["swaps"]])
    ),


def video_path(wildcards):
    return config["videos"][wildcards.video]


def video_references(wildcards):
    """Reference stills of the identities that a video belongs to."""
    return sorted(
        {
            ref
            for ident in config["identities"].values()
            if wildcards.video in ident["videos"]
            for ref in ident["references"]
        }
    )


def detect_shards(wildcards):
    """One detection job per ``extract.shard_size`` frames: known once the video is split."""
    probe = checkpoints.split_frames.get(video=wildcards.video).output.probe
    frames = read_json(probe)["frames"]
    shards = range(math.ceil(frames / config["extract"]["shard_size"]))
    return expand(
        "results/detect/{video}/{shard}.parquet", video=wildcards.video, shard=shards
    )


def merge_frames(wildcards):
    """Frames that merge encodes: the converted ones, or the originals for passthrough."""
    if wildcards.swap == "passthrough":
        return f"results/frames/{wildcards.video}"
    return f"results/convert/{wildcards.swap}/{wildcards.video}"


def identity_facesets(identity):
    return expand(
        "results/faceset/{video}", video=config["identities"][identity]["videos"]
    )


def train_settings(wildcards):
    return config["train"] | swap_by_name(wildcards.swap)["train"]


def convert_settings(wildcards):
    return config["convert"] | swap_by_name(wildcards.swap)["convert"]


def merge_settings(wildcards):
    overrides = (
        {} if wildcards.swap == "passthrough" else swap_by_name(wildcards.swap)["merge"]
    )
    return config["merge"] | overrides


def swap_by_name(name):
    return next(s for s in config["swaps"] if s["name"] == name)


def swap_video_names():
    """``swap/video`` for every video of every swap."""
    return [f"{s['name']}/{video}" for s in config["swaps"] for video in swap_videos(s)]


def all_outputs():
    """Every swap's output videos, their metrics, the summary, and the contact
    sheets of the training videos (videos only converted need no faceset)."""
    names = swap_video_names()
    outputs = expand("results/swap/{name}.mp4", name=names)
    if config["evaluate"]["enabled"]:
        outputs += expand("results/evaluate/{name}.json", name=names)
        outputs += ["results/evaluate/summary.tsv", "results/config.yaml"]
    training = {v for ident in config["identities"].values() for v in ident["videos"]}
    return outputs + expand("results/faceset/{video}.jpg", video=sorted(training))


def swap_videos(swap):
    return swap.get("videos") or config["identities"][swap["target"]]["videos"]

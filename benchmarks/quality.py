"""Swap quality a training budget buys on the demo: setting -> samples/s, minutes,
sharpness ratio, ID retrieval (the table in benchmarks/quality.md).

Each setting is a preset plus training overrides. It is trained on the demo
facesets (the woman's face onto the man's clip) for about ``--minutes`` of
training on this machine: a short calibration run measures its iterations/s,
then the real workflow trains, converts, merges and evaluates the swap
``q-<setting>`` with that many iterations, in the project folder ``--work``
(extraction is shared between settings and done once). Printed per setting:
samples/s and minutes of the training job; held-out masked PSNR of A and B,
sharpness ratio and ID retrieval from the evaluate rule.

``--ceiling`` prints, without training, the sharpness ratio a perfect model
of each output size and coverage could reach on the man's clip: every face
converted with itself resized to the model's output size (what the output
resolution alone costs, against the face's size on screen).

Run from the repository root, e.g.
``python benchmarks/quality.py --ceiling`` or
``python benchmarks/quality.py --minutes 15 64-lr5e-4-cos 64-wide-cos`` (``--minutes 0``: the
preset's own iterations).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from swapflow import demo
from swapflow.convert import convert_frames
from swapflow.evaluate import frame_metrics
from swapflow.frames import FrameFiles
from swapflow.frames import list_frames
from swapflow.train.config import compose_config
from swapflow.train.models import FaceSwapModel
from swapflow.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))
from kit import trainer_speed  # noqa: E402
from run import VARIANTS  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SNAKEFILE = REPO / "workflow" / "Snakefile"

# name -> (preset, training overrides); the presets as they are in config/model/.
SETTINGS: dict[str, tuple[str, list[str]]] = {
    "lite": ("lite", []),
    "64-lr2e-4": ("lite", ["model.lr=2e-4", "lr_schedule=constant"]),
    "64-lr5e-4": ("lite", ["model.lr=5e-4", "lr_schedule=constant"]),
    "64-lr5e-4-cos": ("lite", ["model.lr=5e-4", "lr_schedule=cosine"]),
    "64-lr1e-3-cos": ("lite", ["model.lr=1e-3", "lr_schedule=cosine"]),
    "64-nowarp-cos": ("lite", ["model.lr=5e-4", "lr_schedule=cosine", "data.warp_strength=0"]),
    # faceswap's Lightweight widths: dense 512, decoder 512/256/128 (lite: 128, 64/32/16)
    "64-wide-cos": ("lite", ["model.dense=512", "model.decoder=[512,256,128]", "model.lr=5e-4",
                             "lr_schedule=cosine"]),
    "64-d512-cos": ("lite", ["model.dense=512", "model.lr=5e-4", "lr_schedule=cosine"]),
    "96-b8-cos": ("lite", ["model.size=96", "batch_size=8", "model.lr=5e-4", "lr_schedule=cosine"]),
}


def snakemake(work: Path, *targets: str) -> None:
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(work),
           "--configfile", str(work / "config.yaml"), "--cores", "2", *targets]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"snakemake {' '.join(targets)} failed:\n{res.stderr[-4000:]}")


def project(work: Path, swaps: list[dict]) -> None:
    """The demo project (config/config.yaml) in ``work`` with ``swaps`` as its swaps."""
    demo.fetch(work / "resources" / "demo")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["swaps"] = swaps
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


class Resampler:
    """A perfect model with output side ``size``: gives back the face it is shown,
    at the model's size (convert resizes it back onto the frame)."""

    predicts_mask = False
    usual_error = None
    coverage_box = FaceSwapModel.coverage_box
    coverage_crop = FaceSwapModel.coverage_crop

    def __init__(self, size: int, coverage: float) -> None:
        self.size, self.coverage = size, coverage

    def swap(self, faces: np.ndarray, to: str = "a") -> tuple[np.ndarray, None]:
        return self.coverage_crop(faces), None


def ceiling(work: Path, sizes: list[int], coverages: list[float]) -> pd.DataFrame:
    """The evaluate rule's sharpness ratio of the man's clip converted by a
    ``Resampler`` of each output size and coverage."""
    project(work, [])
    snakemake(work, "results/faceset/woman", "results/faceset/man", "results/align/man.parquet")
    results = work / "results"
    frames = list_frames(results / "frames" / "man")
    alignments = pd.read_parquet(results / "align" / "man.parquet")
    rows = []
    for size in sizes:
        for cov in coverages:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "converted"
                convert_frames(frames, alignments, Resampler(size, cov), out)
                metrics, _ = frame_metrics(frames, FrameFiles(list_frames(out)), alignments,
                                           [results / "faceset" / "woman"], [results / "faceset" / "man"])
                rows.append({"size": size, "coverage": cov, "sharpness_ratio": metrics["sharpness_ratio"]})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def speed(work: Path, preset: str, overrides: list[str], iterations: int = 20, warmup: int = 5,
          threads: int = 2) -> dict[str, float]:
    """kit.trainer_speed of the setting's training on the demo facesets."""
    cfg = compose_config(REPO / "config", preset, [
        "log_every_s=1e9", "checkpoint_every=1000000", "preview_every=1000000", *overrides])
    fs = work / "results" / "faceset"
    with tempfile.TemporaryDirectory() as tmp:
        return trainer_speed(Trainer(cfg, [fs / "woman"], [fs / "man"], tmp, threads=threads),
                             iterations, warmup)


def speeds(work: Path, name: str) -> pd.DataFrame:
    """samples/s of a setting in each of the GPU kit's variants, and with one thread."""
    preset, overrides = SETTINGS[name]
    project(work, [])
    snakemake(work, "results/faceset/woman", "results/faceset/man")
    runs = {variant: speed(work, preset, [*overrides, *extra]) for variant, extra in VARIANTS.items()}
    runs["as configured, 1 thread"] = speed(work, preset, overrides, threads=1)
    base = runs["fp32"]["samples_per_s"]
    return pd.DataFrame([{"setting": name, "variant": variant, "samples/s": round(r["samples_per_s"], 1),
                          "x fp32": round(r["samples_per_s"] / base, 2)} for variant, r in runs.items()])


def run_setting(work: Path, name: str, minutes: float, iterations: int = 0) -> dict:
    preset, overrides = SETTINGS[name]
    project(work, [])
    snakemake(work, "results/faceset/woman", "results/faceset/man")
    if not iterations and minutes > 0:  # (given iterations compare at equal steps, whatever else runs)
        calibration = speed(work, preset, overrides)
        iterations = int(minutes * 60 * calibration["iterations"] / calibration["seconds"])
    elif not iterations:  # the preset's own
        iterations = int(compose_config(REPO / "config", preset, overrides).iterations)
    swap = f"q-{name}"
    project(work, [{"name": swap, "face": "woman", "target": "man", "videos": ["man"],
                    "train": {"preset": preset, "iterations": iterations,
                              "overrides": overrides}}])
    start = time.time()
    snakemake(work, f"results/evaluate/{swap}/man.json")
    metrics = json.loads((work / "results" / "evaluate" / swap / "man.json").read_text())
    model = max((p for p in (work / "results" / "model").glob("woman-man-*")
                 if p.stat().st_mtime >= start), key=lambda p: p.stat().st_mtime)
    run = json.loads((model / "manifest.json").read_text())["last_run"]
    return {"setting": name, "iterations": iterations,
            "samples_per_s": round(run["samples_per_s"], 1),
            "minutes": round(run["seconds"] / 60, 1),
            "heldout_a_psnr_masked": round(metrics["recon_a_psnr_masked"], 2),
            "heldout_b_psnr_masked": round(metrics["recon_b_psnr_masked"], 2),
            "sharpness_ratio": round(metrics["sharpness_ratio"], 3),
            "id_retrieval": round(metrics["id_retrieval"], 3),
            "model": model.name}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="*", help=f"settings to train: {', '.join(SETTINGS)}")
    parser.add_argument("--minutes", type=float, default=15.0, help="training minutes a setting (0: the preset's iterations)")
    parser.add_argument("--iterations", type=int, default=0,
                        help="train each setting this many iterations instead of --minutes")
    parser.add_argument("--ceiling", action="store_true", help="the sharpness a perfect model could reach")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32, 64, 96, 128, 256],
                        help="output sizes of --ceiling")
    parser.add_argument("--speed", metavar="SETTING", help="samples/s of SETTING per variant (autocast, "
                        "channels_last, torch.compile) and with one thread")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "quality",
                        help="project folder (extraction is kept between runs)")
    args = parser.parse_args()
    unknown = set(args.settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; known: {', '.join(SETTINGS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.ceiling:
        print(ceiling(args.work, args.sizes, [0.875, 0.75, 0.625]).to_markdown(index=False))
    if args.speed:
        print(speeds(args.work, args.speed).to_markdown(index=False))
    rows = []
    for name in args.settings:
        rows.append(run_setting(args.work, name, args.minutes, args.iterations))
        print(rows[-1], flush=True)
    if rows:
        print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()

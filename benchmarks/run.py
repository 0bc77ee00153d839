"""Time each stage against a plain-ffmpeg baseline run in the same script.

Usage: python benchmarks/run.py [--clip PATH] [--repeat N] [STAGE ...]
Prints one line per stage: swapflow's time, the baseline's, and their ratio
(the machines are noisy, so only ratios measured side by side mean anything).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from swapflow import demo, extract
from swapflow.mask import write_masks
from swapflow.frames import list_frames
from swapflow.video.ffmpeg import ffmpeg_exe
from swapflow.video.merge import merge
from swapflow.video.probe import Probe
from swapflow.video.split import split

REPO = Path(__file__).resolve().parents[1]


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def split_baseline(clip: Path, work: Path) -> None:
    out = work / "baseline_frames"
    out.mkdir(exist_ok=True)
    ffmpeg("-i", str(clip), "-compression_level", "1", str(out / "%06d.png"))


def bench_split(clip: Path, work: Path, repeat: int) -> tuple[float, float]:
    """split_frames against `ffmpeg -i clip -compression_level 1 %06d.png`."""
    def ours():
        split(clip, work / "frames", work / "probe.json")

    return best_of(repeat, ours), best_of(repeat, lambda: split_baseline(clip, work))


def frames_of(clip: Path, work: Path) -> tuple[list[Path], Probe]:
    """The clip split once per run."""
    frames = work / "frames"
    if not frames.exists():
        split(clip, frames, work / "probe.json")
    return list_frames(frames), Probe.load(work / "probe.json")


def encode_baseline(probe: Probe, frames: Path, work: Path) -> None:
    """ffmpeg alone encoding the frames with merge's default codec settings."""
    ffmpeg("-framerate", probe.fps, "-i", str(frames / "%06d.png"), "-c:v", "libx264",
           "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", str(work / "baseline.mp4"))


def bench_merge(clip: Path, work: Path, repeat: int) -> tuple[float, float]:
    """merge against an ffmpeg encode of the same frames with the same codec settings."""
    paths, probe = frames_of(clip, work)
    ours = best_of(repeat, lambda: merge([paths[0].parent], probe, work / "merged.mp4"))
    return ours, best_of(repeat, lambda: encode_baseline(probe, paths[0].parent, work))


def bench_extract(clip: Path, work: Path, repeat: int) -> tuple[float, float]:
    """detect (+ landmarks) + align + mask + faceset, as the rules run them with
    default settings, against the PNG split baseline."""
    paths, _ = frames_of(clip, work)

    def ours():
        alignments = extract.align_faces(extract.extract_frames(paths, {}), {})
        write_masks(work / "masks.npz", extract.mask_frames(paths, alignments, {}))
        extract.build_faceset(paths, alignments, work / "masks.npz", work / "faceset", {})
        alignments.to_parquet(work / "alignments.parquet")
    return best_of(repeat, ours), best_of(repeat, lambda: split_baseline(clip, work))


def bench_convert(clip: Path, work: Path, repeat: int) -> tuple[float, float]:
    """convert + merge (lite model, default settings) against an ffmpeg encode of the frames."""
    from swapflow.convert import ConvertConfig, convert_frames
    from swapflow.occlusion.hands import track_hands
    from swapflow.train.config import compose_config

    from swapflow.train.model_io import load_model
    from swapflow.train.trainer import train
    paths, probe = frames_of(clip, work)
    if not (work / "faceset").exists():
        bench_extract(clip, work, 1)
    cfg = compose_config(REPO / "config", "lite", ["iterations=2"])
    train(cfg, [work / "faceset"], [work / "faceset"], work / "model", work / "checkpoint")
    model = load_model(work / "model")[0]
    alignments = pd.read_parquet(work / "alignments.parquet")

    hands = track_hands(paths, alignments["frame"])  # rule hands' work, not convert's

    def ours():
        convert_frames(paths, alignments, model, work / "converted", cfg=ConvertConfig(), hands=hands)
        merge([work / "converted"], probe, work / "swapped.mp4")
    return best_of(repeat, ours), best_of(repeat, lambda: encode_baseline(probe, paths[0].parent, work))


STAGES = {"split": bench_split, "extract": bench_extract, "merge": bench_merge,
          "convert": bench_convert}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", metavar="STAGE",
                        help="stages to time: " + ", ".join(STAGES) + " (default: all)")
    parser.add_argument("--clip", type=Path, help="video to time (default: the woman demo clip)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    if unknown := set(args.stages) - set(STAGES):
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    clip = args.clip or demo.fetch(REPO / "resources" / "demo")[0]
    with tempfile.TemporaryDirectory() as tmp:
        for stage in args.stages or STAGES:
            ours, base = STAGES[stage](clip, Path(tmp), args.repeat)
            print(f"{stage:8s} swapflow {ours:7.2f} s  baseline {base:7.2f} s  "
                  f"ratio {ours / base:5.2f}", flush=True)


if __name__ == "__main__":
    main()

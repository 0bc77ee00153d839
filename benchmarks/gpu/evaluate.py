"""Evaluate what the GPU kit's run brought back (run here, in the project's environment).

For each <preset>.tar in the returned folder: the converted frames put in
place of the target clip's frames, measured with the evaluate rule's frame
metrics (sharpness ratio, ID retrieval against the demo facesets, ...), a
before/after strip and the preview next to the tar; then one table of
samples/s per variant (and its ratio to plain fp32), peak GPU memory,
training and swap quality.

    python benchmarks/gpu/evaluate.py RETURNED_FOLDER [--work benchmarks/out/quality]
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import pandas as pd

from kit import IDENTITIES
from swapflow.evaluate import frame_metrics
from swapflow.frames import FrameFiles
from swapflow.report import before_after_strip
from swapflow.frames import list_frames

REPO = Path(__file__).resolve().parents[2]
FACE, TARGET = IDENTITIES


def evaluate_preset(tar_path: Path, work: Path) -> dict:
    results = work / "results"
    unpacked = tar_path.with_suffix("")
    with tarfile.open(tar_path) as tar:
        tar.extractall(unpacked, filter="data")
    original = list_frames(results / "frames" / TARGET)
    swapped = {p.name: p for p in list_frames(unpacked / "frames")}
    output = FrameFiles([swapped.get(p.name, p) for p in original])
    alignments = pd.read_parquet(results / "align" / f"{TARGET}.parquet")
    metrics, _ = frame_metrics(original, output, alignments, [results / "faceset" / FACE],
                               [results / "faceset" / TARGET])
    before_after_strip(original, output, alignments, unpacked / "strip.jpg")
    return metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("returned", type=Path, help="the folder of results.json and <preset>.tar")
    p.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "quality",
                   help="the demo project prepare.py extracted")
    args = p.parse_args()
    results = json.loads((args.returned / "results.json").read_text())
    print(f"{results['device']}, torch {results['torch']}\n")
    rows = []
    for preset, res in results["presets"].items():
        for variant, speed in res["variants"].items():
            rows.append({"preset": preset, "variant": variant, "samples/s": round(speed["samples_per_s"], 1),
                         "x floor": round(speed["ratio_to_floor"], 2), "x fp32": round(speed.get("ratio_to_fp32") or 0, 2),
                         "x without ddp": round(speed["ratio_to_plain"], 2) if "ratio_to_plain" in speed else "",
                         "stall %": round(100 * speed["stall_fraction"], 1),
                         "peak GiB": round(speed.get("peak_gib", 0), 2),
                         "s with warm-up": round(speed["seconds_with_warmup"], 1)})
    print(pd.DataFrame(rows).to_markdown(index=False), "\n")
    for preset, res in results["presets"].items():
        for n, speed in res.get("beside", {}).items():
            print(f"{preset} beside {n} busy processes ({results.get('cores')} cores): "
                  f"{speed['samples_per_s']:.1f} samples/s, {speed['of_alone']:.2f} of alone")
    rows = []
    for preset, res in results["presets"].items():
        tar_path = args.returned / f"{preset}.tar"
        if "training" not in res or not tar_path.exists():
            continue
        metrics = evaluate_preset(tar_path, args.work)
        train = res["training"]
        rows.append({"preset": preset, "variant": train["variant"], "iterations": train["iterations"],
                     "seconds": round(train["seconds"]), "samples/s": round(train["samples_per_s"], 1),
                     "sharpness ratio": round(metrics["sharpness_ratio"], 3),
                     "ID retrieval": round(metrics["id_retrieval"], 3),
                     "faces": metrics["id_faces"]})
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()

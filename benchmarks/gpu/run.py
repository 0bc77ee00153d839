"""The GPU kit's run (on the device machine; started by run.sh).

For each preset: samples/s and peak GPU memory of the real Trainer in
each variant, against the floor of that variant (the same model's step on a
batch already on the device), in each variant (fp32, autocast, channels_last, both, both +
torch.compile), and fp32 and autocast+channels_last again in a
DistributedDataParallel process group of one (the overhead of data-parallel
training, measured on a one-GPU machine); then the preset trained for
``--seconds`` in its fastest
variant, and the target clip converted with the trained model. For the
first preset, its fastest variant's speed beside busy processes (``--beside``:
how many plain Python loops, 0 = none, ``all`` = one a core) against its speed
alone in the same rounds. Writes to
``--out``: results.json (rewritten after each stage, so a run cut short
still says what it did) and <preset>.tar (the converted frames that hold a
face, preview.jpg, loss.png, losses.csv, manifest.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import swapflow  # before torch: swapflow sets OpenMP's wait policy as a run has it

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from kit import (FACESETS, IDENTITIES, TARGET, floor_speed, one_process_group, trainer_speed,  # noqa: E402
                 unpack_faceset)
from swapflow.alignments import kept_faces
from swapflow.convert import convert_frames
from swapflow.frames import frame_index, list_frames
from swapflow.train.config import compose_config
from swapflow.train.curve import stop_reason
from swapflow.train.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]
VARIANTS = {
    "fp32": ["precision=fp32", "channels_last=false"],
    "autocast": ["precision=auto", "channels_last=false"],
    "channels_last": ["precision=fp32", "channels_last=true"],
    "autocast+channels_last": ["precision=auto", "channels_last=true"],
    "autocast+channels_last+compile": ["precision=auto", "channels_last=true", "compile=true"],
}
# the same settings, trained as one DistributedDataParallel process: against the variant they extend
DDP = {"fp32+ddp": "fp32", "autocast+channels_last+ddp": "autocast+channels_last"}
VARIANTS |= {name: VARIANTS[plain] for name, plain in DDP.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kit", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--presets", nargs="+", default=["original", "dfaker128", "df256"])
    p.add_argument("--seconds", type=float, nargs="+", default=[100.0, 150.0, 150.0],
                   help="training time of each preset")
    p.add_argument("--iterations", type=int, nargs="+", default=[],
                   help="training iterations of each preset instead of --seconds")
    p.add_argument("--speed-iterations", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, nargs="+", default=[],
                   help="batch size of each preset (default: the preset's)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--beside", nargs="+", default=["1", "all"],
                   help="busy processes beside the first preset's training (a number, or all: one a core)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor(),
               "torch": torch.__version__, "swapflow": swapflow.__version__,
               "cores": len(os.sched_getaffinity(0)), "presets": {}}

    def save() -> None:
        (args.out / "results.json").write_text(json.dumps(results, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        facesets = [unpack_faceset(args.kit / FACESETS / f"{name}.npz", tmp / name) for name in IDENTITIES]
        frames = list_frames(args.kit / TARGET / "frames")
        alignments = pd.read_parquet(args.kit / TARGET / "alignments.parquet")

        batch_sizes = dict(zip(args.presets, args.batch_size))

        def trainer(preset: str, overrides: list[str], name: str) -> Trainer:
            batch = [f"batch_size={batch_sizes[preset]}"] if preset in batch_sizes else []
            cfg = compose_config(REPO / "config", preset, [
                f"device={args.device}", "log_every_s=10", *batch,
                "checkpoint_every=1000000", "preview_every=1000000", *overrides])
            return Trainer(cfg, [facesets[0]], [facesets[1]], tmp / name, identities=IDENTITIES,
                           threads=torch.get_num_threads())

        for preset, seconds in zip(args.presets, args.seconds):
            speeds = results["presets"].setdefault(preset, {"variants": {}})
            for variant in args.variants:
                start = time.perf_counter()
                with one_process_group(variant in DDP):
                    t = trainer(preset, VARIANTS[variant], f"{preset}-{variant}")
                    floor = floor_speed(t, args.speed_iterations, args.warmup)
                    speed = trainer_speed(t, args.speed_iterations, args.warmup)
                speed |= {"seconds_with_warmup": time.perf_counter() - start, "batch_size": int(t.cfg.batch_size),
                          "floor_samples_per_s": floor, "ratio_to_floor": speed["samples_per_s"] / floor}
                speeds["variants"][variant] = speed
                logging.info("%s %s: %.1f samples/s, %.2f of its floor (%.1f), peak %.2f GiB", preset, variant,
                             speed["samples_per_s"], speed["ratio_to_floor"], floor, speed.get("peak_gib", 0))
                del t
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                save()
            base = speeds["variants"].get("fp32", {}).get("samples_per_s")
            for variant, speed in speeds["variants"].items():
                speed["ratio_to_fp32"] = speed["samples_per_s"] / base if base else None
                plain = speeds["variants"].get(DDP.get(variant), {}).get("samples_per_s")
                if plain:
                    speed["ratio_to_plain"] = speed["samples_per_s"] / plain
            best = max((v for v in speeds["variants"] if v not in DDP),
                       key=lambda v: speeds["variants"][v]["samples_per_s"])
            fastest = speeds["variants"][best]
            if preset == args.presets[0] and args.beside:
                t = trainer(preset, VARIANTS[best], f"{preset}-beside")
                speeds["beside"] = beside(t, args.beside, args.speed_iterations, args.warmup)
                del t
                save()
            iterations = (dict(zip(args.presets, args.iterations)).get(preset)
                          or max(1, int(seconds * fastest["iterations"] / fastest["seconds"])))
            t = trainer(preset, [*VARIANTS[best], f"iterations={iterations}"], f"{preset}-train")
            run = t.fit()
            model_dir = t.write_output(tmp / f"{preset}-model", run, time.strftime("%Y-%m-%dT%H:%M:%S"))
            # where iterations: auto (its maximum this run's length) would have stopped
            stops = [row["iteration"] for k, row in enumerate(t.curve, 1)
                     if stop_reason(t.curve[:k], int(t.cfg.stop.window), float(t.cfg.stop.min_delta))]
            speeds["training"] = {"variant": best, **run,
                                  "final_loss": {s: t.history[-1][f"loss_{s}"] for s in "ab"},
                                  "curve": t.curve, "auto_would_stop_at": stops[0] if stops else None}
            converted = tmp / f"{preset}-converted"
            start = time.perf_counter()
            # no hand tracking: mediapipe is not on the GPU machine (and the man shows no hands)
            convert_frames(frames, alignments, t.model, converted, cfg={"occlusion": []})
            speeds["convert_seconds"] = time.perf_counter() - start
            with_faces = set(kept_faces(alignments)["frame"])
            with tarfile.open(args.out / f"{preset}.tar", "w") as tar:
                for frame in list_frames(converted):
                    if frame_index(frame) in with_faces:
                        tar.add(frame, f"frames/{frame.name}")
                for name in ("preview.jpg", "loss.png", "losses.csv", "manifest.json", "curve.tsv", "curve.png"):
                    tar.add(model_dir / name, name)
            save()
            del t
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def beside(t: Trainer, counts: list[str], iterations: int, warmup: int, rounds: int = 3) -> dict:
    """samples/s of ``t`` alone and beside each count of busy single-threaded
    processes, alternating in ``rounds``; medians, and each against alone."""
    cores = len(os.sched_getaffinity(0))
    runs: dict[str, list[float]] = {}
    trainer_speed(t, 1, warmup)
    for _ in range(rounds):
        for count in ["0", *counts]:
            n = cores if count == "all" else int(count)
            loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
            try:
                runs.setdefault(str(n), []).append(trainer_speed(t, iterations, 0)["samples_per_s"])
            finally:
                for loop in loops:
                    loop.kill()
                    loop.wait()
    alone = statistics.median(runs["0"])
    result = {n: {"samples_per_s": statistics.median(v)} for n, v in runs.items()}
    for n, r in result.items():
        r["of_alone"] = r["samples_per_s"] / alone
        logging.info("beside %s busy processes (%d cores): %.1f samples/s, %.2f of alone", n, cores,
                     r["samples_per_s"], r["of_alone"])
    return result


if __name__ == "__main__":
    main()

"""Training speed against its floor: the real trainer and the least work a step must do.

The floor is the same model's forward, backward and optimizer step (same
loss, precision, memory format and optimizer as the trainer) on batches
already on the device, made once before timing. The trainer is
``Trainer.fit`` as a run uses it: batches made each step, losses logged.
Rounds alternate between the two in one process, each after a warm-up, and
the script prints both samples/s and their ratio (target: >= 0.85 on a CPU,
>= 0.8 on a GPU), and the share of a step that making the batches costs.
With ``--versus "OVERRIDES"`` a second trainer with those overrides as well
runs in the same rounds, and its speed against the first's is printed (what
a setting costs: ``--versus "model.mask=true data.occlusion=0.5"``).

Facesets: ``--faceset-a/--faceset-b``, else built once from the demo clips in
resources/demo the way the workflow extracts them, into ``--cache``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from swapflow import demo  # before torch: swapflow sets OpenMP's wait policy as a run has it

import torch  # noqa: E402
from swapflow.frames import list_frames
from swapflow.pipeline import extract
from swapflow.train.config import compose_config
from swapflow.train.trainer import Trainer
from swapflow.video.split import split

REPO = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))
from kit import floor_speed, trainer_speed  # noqa: E402


# The facesets are built once into the user's cache folder (not a fixed name in the
# shared temporary folder, which another user could create first).
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swapflow" / "bench_facesets"


def demo_facesets(cache: Path) -> tuple[Path, Path]:
    """Facesets of the two demo clips (woman = A, man = B), built once."""
    demo.fetch(REPO / "resources" / "demo")
    out = []
    for name, clip in (("woman", "WolfgangLanger_Pexels.mp4"), ("man", "single_face.mp4")):
        fs = cache / name
        if not fs.exists():
            frames_dir = cache / f"frames_{name}"
            if not frames_dir.exists():
                split(REPO / "resources" / "demo" / clip, frames_dir, cache / f"{name}.json")
            extract(list_frames(frames_dir), fs)
        out.append(fs)
    return out[0], out[1]


def make_trainer(args: argparse.Namespace, workdir: Path, more: list[str] = ()) -> Trainer:
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = compose_config(REPO / "config", args.preset, [
        f"batch_size={args.batch_size}", f"device={args.device}", "log_every_s=1e9",
        "checkpoint_every=1000000", "preview_every=1000000", *args.overrides, *more])
    return Trainer(cfg, [args.faceset_a], [args.faceset_b], workdir, threads=args.threads)


def batch_seconds(trainer: Trainer, iterations: int) -> float:
    """Seconds per iteration that making both sides' batches costs alone."""
    sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for i in range(iterations):
        trainer.batches()
        trainer.iteration += 1
    sync()
    trainer.iteration -= iterations
    return (time.perf_counter() - t0) / iterations


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faceset-a", type=Path)
    p.add_argument("--faceset-b", type=Path)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--preset", default="lite")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--versus", help="more overrides (one string) for a second trainer timed in the same rounds")
    p.add_argument("overrides", nargs="*", help="training overrides, e.g. precision=fp32")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.faceset_a is None or args.faceset_b is None:
        args.faceset_a, args.faceset_b = demo_facesets(args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(args, Path(tmp) / "trainer")
        other = make_trainer(args, Path(tmp) / "versus", args.versus.split()) if args.versus else None
        floors, runs, versus = [], [], []
        for r in range(args.rounds):
            floors.append(floor_speed(trainer, args.iterations, args.warmup))
            runs.append(trainer_speed(trainer, args.iterations, args.warmup)["samples_per_s"])
            print(f"round {r + 1}: floor {floors[-1]:.1f} samples/s, trainer {runs[-1]:.1f} samples/s",
                  flush=True)
            if other is not None:
                versus.append(trainer_speed(other, args.iterations, args.warmup)["samples_per_s"])
                print(f"round {r + 1}: with {args.versus}: {versus[-1]:.1f} samples/s, "
                      f"{versus[-1] / runs[-1]:.2f} of the trainer", flush=True)
        per_step = 2 * args.batch_size / statistics.median(runs)
        making = batch_seconds(trainer, args.iterations)
    floor, run = statistics.median(floors), statistics.median(runs)
    print(f"\n{args.preset} {' '.join(args.overrides)}, batch {args.batch_size}, {args.threads} threads, "
          f"{trainer.device}, autocast {trainer.dtype}, channels_last {trainer.channels_last}")
    print(f"floor (model step on ready batches): {floor:.1f} samples/s")
    print(f"trainer: {run:.1f} samples/s, {run / floor:.2f} of the floor "
          f"(target {0.8 if trainer.device.type == 'cuda' else 0.85})")
    print(f"making the batches alone: {1000 * making:.1f} ms an iteration, "
          f"{100 * making / per_step:.0f}% of a trainer step")
    if versus:
        print(f"with {args.versus}: {statistics.median(versus):.1f} samples/s, "
              f"{statistics.median(v / r for v, r in zip(versus, runs)):.2f} of the trainer (median of the rounds)")


if __name__ == "__main__":
    main()

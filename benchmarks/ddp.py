"""Data-parallel training on this machine: two processes against one.

The baseline is one training process with all ``--threads`` threads; against it
``--processes`` processes under torchrun (gloo on the cpu, nccl on GPUs) with
the threads shared out, each building and training its share of the same total
batch. Both run the real ``swapflow-train`` in fresh processes, alternating,
``--rounds`` times; samples/s is that of the training loop (the manifest's
``last_run``), start-up is reported apart. The GPU side (one plain process
against one DistributedDataParallel process on the one-GPU check machine) is
measured by the GPU kit, benchmarks/gpu/.

Facesets: ``--faceset-a/--faceset-b``, else the demo's, built once into ``--cache``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from train_bench import CACHE, demo_facesets  # noqa: E402

from swapflow.io import read_json  # noqa: E402
from swapflow.train.config import compose_config  # noqa: E402
from swapflow.train.distributed import launch  # noqa: E402


def run(args: argparse.Namespace, processes: int, work: Path) -> tuple[float, float]:
    """(training samples/s, wall seconds of the whole command) of one run."""
    work.mkdir(parents=True)
    overrides = [f"iterations={args.iterations}", f"batch_size={args.batch_size}", "log_every_s=1e9",
                 "checkpoint_every=1000000", "preview_every=1000000"]
    facesets, out, ckpt = ([args.faceset_a], [args.faceset_b]), work / "model", work / "ckpt"
    start = time.perf_counter()
    if processes == 1:
        subprocess.run([sys.executable, "-m", "swapflow.train.cli", "--faceset-a", str(args.faceset_a),
                        "--faceset-b", str(args.faceset_b), "--out", str(out), "--checkpoint-dir", str(ckpt),
                        "--config-dir", str(REPO / "config"), "--preset", args.preset,
                        "--threads", str(args.threads), *overrides], check=True, capture_output=True)
    elif launch(compose_config(REPO / "config", args.preset, overrides), *facesets, out, ckpt, ("a", "b"),
                processes, args.threads // processes, work / "log.txt"):
        sys.exit(f"the {processes}-process run failed: see {work / 'log.txt'}")
    wall = time.perf_counter() - start
    return read_json(work / "model" / "manifest.json")["last_run"]["samples_per_s"], wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faceset-a", type=Path)
    p.add_argument("--faceset-b", type=Path)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--preset", default="lite")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--threads", type=int, default=2, help="CPU threads in all")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    if args.faceset_a is None or args.faceset_b is None:
        args.faceset_a, args.faceset_b = demo_facesets(args.cache)
    results: dict[int, list[tuple[float, float]]] = {1: [], args.processes: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for n in results:
                results[n].append(run(args, n, Path(tmp) / f"r{r}-p{n}"))
                speed, wall = results[n][-1]
                print(f"round {r + 1}, {n} process(es): {speed:.1f} samples/s, {wall:.1f} s in all", flush=True)
    base = statistics.median(s for s, _ in results[1])
    print(f"\n{args.preset}, total batch {args.batch_size}, {args.iterations} iterations, "
          f"{args.threads} threads in all")
    for n, runs in results.items():
        speed = statistics.median(s for s, _ in runs)
        print(f"{n} process(es): {speed:.1f} samples/s ({speed / base:.2f}x one process), "
              f"whole run {statistics.median(w for _, w in runs):.1f} s")


if __name__ == "__main__":
    main()

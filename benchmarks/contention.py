"""Training and convert's model pass beside other work: speed alone and beside busy processes, in one run.

Each way of running (``--ways``: torch threads and the OpenMP wait policy,
e.g. ``"threads=2"`` ``"threads=1 wait=passive"``) is a child process started
with that environment, so OpenMP reads it before torch starts. The child
builds the trainer (``--part train``) or a model for convert's pass
(``--part convert``: ``swap`` on batches of faceset crops) once and then
runs a fixed number of iterations each time the parent asks. The parent
alternates rounds: alone, then beside each load in turn:

- ``loop``: a plain Python loop (one core);
- ``train``: a second training (``--load-way``: swapflow's defaults);
- ``detect``: the detect stage on the demo frames, over and over.

Each speed is printed against the same way's speed alone (median of the
rounds), against the fastest way's alone, and against the fair share ``max(cores - load cores, cores / 2) / cores``
(a single-threaded load on 2 cores: 0.5). The floor of ``train_bench.py``
is the alone speed's reference; this script is about what a neighbour costs.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch  # noqa: F401  (before swapflow, which sets OMP_WAIT_POLICY: a way without wait= is OpenMP's default)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from train_bench import CACHE, demo_facesets  # noqa: E402

LOAD_CORES = {"loop": 1, "train": 2, "detect": 1}


def way_env(way: str) -> tuple[dict[str, str], int]:
    """The child's environment and torch threads for a way such as
    ``"threads=2 wait=passive"`` (``wait`` sets OMP_WAIT_POLICY; absent: the default)."""
    keys = dict(item.split("=", 1) for item in way.split())
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if "wait" in keys:
        env["OMP_WAIT_POLICY"] = keys["wait"].upper()
    threads = int(keys.get("threads", 2))
    env["OMP_NUM_THREADS"] = str(threads)
    return env, threads


def child(args: argparse.Namespace) -> None:
    """Build the work once, then for each line of stdin run that many
    iterations and print samples/s (``forever``: run until killed)."""
    if args.child == "detect":
        from swapflow.extract import extract_frames
        from swapflow.frames import list_frames

        frames = list_frames(args.cache / "frames_man")[:20]

        def run(n: int) -> int:
            for _ in range(n):
                extract_frames(frames)
            return n * len(frames)
    else:
        run = _model_work(args)
    run(args.warmup)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "forever":
            while True:
                run(args.iterations)
        t0 = time.perf_counter()
        done = run(int(line))
        print(done / (time.perf_counter() - t0), flush=True)


def _model_work(args: argparse.Namespace):
    """A function running n training steps (samples: both sides' batches) or
    n of convert's model passes on a batch of B's faces (samples: faces)."""
    import numpy as np

    from swapflow.faceset import load_faceset
    from swapflow.train.config import compose_config
    from swapflow.train.trainer import Trainer

    cfg = compose_config(REPO / "config", args.preset, [
        f"batch_size={args.batch_size}", "device=cpu", "log_every_s=1e9",
        "checkpoint_every=1000000", "preview_every=1000000"])
    trainer = Trainer(cfg, [args.faceset_a], [args.faceset_b], Path(tempfile.mkdtemp()), threads=args.threads)
    if args.child == "train":
        def run(n: int) -> int:
            trainer.cfg.iterations = trainer.iteration + n
            trainer.fit()
            return 2 * args.batch_size * n
        return run
    faces = np.asarray(load_faceset(args.faceset_b).faces[:args.batch_size])

    def swap(n: int) -> int:
        with torch.inference_mode():
            for _ in range(n):
                trainer.model.swap(faces, "a", batch_size=args.batch_size)
        return args.batch_size * n
    return swap


class Child:
    """One child process of a way, asked for rounds over its stdin."""

    def __init__(self, args: argparse.Namespace, part: str, way: str) -> None:
        env, threads = way_env(way)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", part, "--threads", str(threads), *_common(args)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"{part} child ({way}) did not start: {line!r}")
        self.proc.send_signal(signal.SIGSTOP)

    def speed(self, iterations: int) -> float:
        """samples/s of a round; the child is stopped (SIGSTOP) between rounds,
        as OpenMP threads told to wait actively would spin while it idles."""
        self.proc.send_signal(signal.SIGCONT)
        self.proc.stdin.write(f"{iterations}\n")
        self.proc.stdin.flush()
        speed = float(self.proc.stdout.readline())
        self.proc.send_signal(signal.SIGSTOP)
        return speed

    def forever(self) -> None:
        self.proc.send_signal(signal.SIGCONT)
        self.proc.stdin.write("forever\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _common(args: argparse.Namespace) -> list[str]:
    return ["--preset", args.preset, "--batch-size", str(args.batch_size), "--iterations", str(args.iterations),
            "--warmup", str(args.warmup), "--faceset-a", str(args.faceset_a), "--faceset-b", str(args.faceset_b),
            "--cache", str(args.cache)]


def start_load(args: argparse.Namespace, load: str) -> subprocess.Popen | Child:
    if load == "loop":
        return subprocess.Popen([sys.executable, "-c", "while True: pass"])
    worker = Child(args, "train" if load == "train" else "detect", args.load_way)
    worker.forever()
    return worker


def stop_load(load: subprocess.Popen | Child) -> None:
    if isinstance(load, Child):
        load.stop()
    else:
        load.kill()
        load.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("train", "convert"), default="train")
    p.add_argument("--ways", nargs="+", default=["threads=2"],
                   help='ways to run, each "threads=N [wait=active|passive]"')
    p.add_argument("--loads", nargs="+", default=["loop"], choices=sorted(LOAD_CORES))
    p.add_argument("--load-way", default="threads=2 wait=passive",
                   help="how the train and detect loads run (default: as swapflow runs them)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--preset", default="lite")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--faceset-a", type=Path)
    p.add_argument("--faceset-b", type=Path)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--child", choices=("train", "convert", "detect"), help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.faceset_a is None or args.faceset_b is None:
        args.faceset_a, args.faceset_b = demo_facesets(args.cache)
    if args.child:
        child(args)
        return
    cores = len(os.sched_getaffinity(0))
    children = {way: Child(args, args.part, way) for way in args.ways}
    speeds: dict[tuple[str, str], list[float]] = {}
    try:
        for r in range(args.rounds):
            for load_name in ["alone", *args.loads]:
                load = None if load_name == "alone" else start_load(args, load_name)
                try:
                    for way, c in children.items():
                        s = c.speed(args.iterations)
                        speeds.setdefault((way, load_name), []).append(s)
                        print(f"round {r + 1}: {way:24} {load_name:7} {s:7.1f} samples/s", flush=True)
                finally:
                    if load is not None:
                        stop_load(load)
    finally:
        for c in children.values():
            c.stop()
    print(f"\n{args.part}, {args.preset}, batch {args.batch_size}, {cores} cores, "
          f"{args.rounds} rounds of {args.iterations} iterations (medians)")
    best = max(statistics.median(speeds[way, "alone"]) for way in args.ways)
    print(f"{'way':24} {'beside':7} {'samples/s':>9} {'of alone':>8} {'of best':>7} {'fair':>5}")
    for way in args.ways:
        alone = statistics.median(speeds[way, "alone"])
        for load_name in ["alone", *args.loads]:
            s = statistics.median(speeds[way, load_name])
            fair = 1.0 if load_name == "alone" else max(cores - LOAD_CORES[load_name], cores / 2) / cores
            print(f"{way:24} {load_name:7} {s:9.1f} {s / alone:8.2f} {s / best:7.2f} {fair:5.2f}")


if __name__ == "__main__":
    main()

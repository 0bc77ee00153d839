"""Training speed: the real trainer against a plain fp32 PyTorch loop.

Default (CPU): samples/s of a preset (``original``) through the real Trainer
as configured (``auto``: on a CPU without native bf16 kernels that is fp32,
NCHW), with bf16 autocast + channels_last forced, and with fp32 +
channels_last, against a plain fp32 NCHW loop of the same architecture and
loss on preloaded batches; runs alternate in one process, each after a warm-up. Prints the ratios and the
data-loading stall fraction of the trainer runs.

The GPU variants (autocast, channels_last, torch.compile on a card) are
measured by the GPU kit, benchmarks/gpu/.

Facesets: ``--faceset-a/--faceset-b``, else built once from the demo clips in
resources/demo the way the workflow extracts them, into ``--cache``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the workflow's extraction steps, as the tests run them

from swapflow import video  # noqa: E402
from swapflow.frames import list_frames  # noqa: E402
from swapflow.train.config import compose_config  # noqa: E402
from swapflow.train.data import make_batch  # noqa: E402
from swapflow.train.losses import face_loss  # noqa: E402
from swapflow.train.models import build_model  # noqa: E402
from swapflow.train.trainer import Trainer  # noqa: E402
from tests.extraction import extract  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks" / "gpu"))
from kit import trainer_speed  # noqa: E402


def demo_facesets(cache: Path) -> tuple[Path, Path]:
    """Facesets of the two demo clips (woman = A, man = B), built once."""
    out = []
    for name, clip in (("woman", "WolfgangLanger_Pexels.mp4"), ("man", "single_face.mp4")):
        fs = cache / name
        if not fs.exists():
            frames_dir = cache / f"frames_{name}"
            if not frames_dir.exists():
                video.split(REPO / "resources" / "demo" / clip, frames_dir, cache / f"{name}.json")
            extract(list_frames(frames_dir), fs)
        out.append(fs)
    return out[0], out[1]


def make_trainer(args: argparse.Namespace, preset: str, overrides: list[str], workdir: Path) -> Trainer:
    cfg = compose_config(REPO / "config", preset, [
        f"batch_size={args.batch_size}", f"device={args.device}", "log_every_s=1e9",
        "checkpoint_every=1000000", "preview_every=1000000", *overrides])
    return Trainer(cfg, [args.faceset_a], [args.faceset_b], workdir, threads=args.threads)


def plain_speed(trainer: Trainer, iterations: int, warmup: int) -> float:
    """samples/s of a plain fp32 NCHW loop: same architecture, loss and batch
    size, preloaded batches, no autocast."""
    cfg = trainer.cfg
    device = trainer.device
    model = build_model(cfg.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg.model.lr), betas=tuple(cfg.model.betas))
    batches = [{side: {k: torch.from_numpy(getattr(make_batch(trainer.sides[side], trainer.augmenter,
                                                               range(int(cfg.batch_size)), 0, i, n), k)).to(device)
                       for k in ("warped", "target", "mask", "weight")}
                for n, side in enumerate("ab")} for i in range(2)]

    def step(i: int) -> None:
        opt.zero_grad()
        total = 0
        for side, b in batches[i % 2].items():
            face, mask = model(b["warped"], side)
            total = total + face_loss(face, b["target"], b["weight"], mask, b["mask"], cfg.loss)["total"]
        total.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(iterations):
        step(i)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * int(cfg.batch_size) * iterations / (time.perf_counter() - t0)


def compare(args: argparse.Namespace, workdir: Path) -> None:
    variants = {"trainer as configured (auto)": [],
                "trainer bf16+channels_last": ["precision=bf16", "channels_last=true"],
                "trainer fp32+channels_last": ["precision=fp32", "channels_last=true"]}
    trainers = {name: make_trainer(args, args.preset, ov, workdir / f"v{i}")
                for i, (name, ov) in enumerate(variants.items())}
    results: dict[str, list[float]] = {name: [] for name in [*variants, "plain fp32"]}
    stalls: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, trainer in trainers.items():
            speed = trainer_speed(trainer, args.iterations, args.warmup)
            results[name].append(speed["samples_per_s"])
            stalls[name].append(speed["stall_fraction"])
            print(f"round {r + 1} {name}: {speed['samples_per_s']:.2f} samples/s, "
                  f"stall {100 * speed['stall_fraction']:.1f}% (autocast {trainer.dtype})", flush=True)
        results["plain fp32"].append(plain_speed(next(iter(trainers.values())), args.iterations, args.warmup))
        print(f"round {r + 1} plain fp32: {results['plain fp32'][-1]:.2f} samples/s", flush=True)
    base = statistics.median(results["plain fp32"])
    print(f"\n{args.preset}, batch {args.batch_size}, {args.threads} threads, device {args.device}")
    print(f"plain fp32 loop: {base:.2f} samples/s")
    for name in variants:
        med = statistics.median(results[name])
        print(f"{name}: {med:.2f} samples/s, ratio {med / base:.2f}x (target 1.5x), "
              f"data stall {100 * statistics.median(stalls[name]):.1f}% (target < 10%)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faceset-a", type=Path)
    p.add_argument("--faceset-b", type=Path)
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "swapflow_bench_facesets")
    p.add_argument("--preset", default="original")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.faceset_a is None or args.faceset_b is None:
        args.faceset_a, args.faceset_b = demo_facesets(args.cache)
    with tempfile.TemporaryDirectory() as tmp:
        compare(args, Path(tmp))


if __name__ == "__main__":
    main()

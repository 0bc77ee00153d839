"""What a training step of each preset costs, counted rather than timed: parameters,
FLOPs per sample of a training step (one face through the encoder and its side's
decoder, forward and backward, as torch's FlopCounterMode counts them) and the
activation memory a sample keeps for the backward pass (the tensors autograd
saves, in fp32 and in bf16), all on torch's meta device (shapes, no compute),
with each preset's expected samples/s
on a GPU derived from a measured throughput at the same achieved TFLOP/s.

    python benchmarks/presets.py [--measured dfaker128=548] [PRESET ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from swapflow.train.config import compose_config, list_presets
from swapflow.train.models import build_model

REPO = Path(__file__).resolve().parents[1]
# the GPU kit's last measurement (an H200, November 2026, batches then made on the CPU):
# dfaker128 532-564 samples/s
MEASURED = "dfaker128=548"


def saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for the backward pass of one forward, but the weights."""
    total = 0
    weights = {id(p) for p in model.parameters()}

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        if id(t) not in weights and id(t._base) not in weights:
            total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        face, mask = model(x, "a")
    return total


def cost(preset: str) -> dict:
    """Counted on the meta device: shapes and types, nothing computed."""
    cfg = compose_config(REPO / "config", preset, [])
    with torch.device("meta"):
        model = build_model(cfg.model)
        x = torch.empty(1, 3, model.size, model.size)
    with FlopCounterMode(display=False) as counter:
        face, mask = model(x, "a")
        (face.mean() + (mask.mean() if mask is not None else 0)).backward()
    return {"preset": preset, "size": model.size, "batch": int(cfg.batch_size),
            "parameters (M)": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
            "GFLOP / sample": round(counter.get_total_flops() / 1e9, 1),
            "activations fp32 (MiB / sample)": round(saved_bytes(model, x) / 2 ** 20),
            "activations bf16 (MiB / sample)": round(saved_bytes(model.bfloat16(), x.bfloat16()) / 2 ** 20)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("presets", nargs="*", default=list_presets(REPO / "config"))
    p.add_argument("--measured", default=MEASURED, metavar="PRESET=SAMPLES_PER_S",
                   help=f"a measured GPU throughput the estimates scale (default {MEASURED})")
    args = p.parse_args()
    table = pd.DataFrame([cost(preset) for preset in args.presets]).set_index("preset")
    ref, speed = args.measured.split("=")
    flops = table.loc[ref, "GFLOP / sample"] if ref in table.index else cost(ref)["GFLOP / sample"]
    tflops = float(speed) * flops / 1000
    table["expected samples/s"] = (float(speed) * flops / table["GFLOP / sample"]).round().astype(int)
    print(table.to_markdown())
    print(f"\nexpected: at the {tflops:.0f} TFLOP/s that {ref} achieved at {speed} samples/s")


if __name__ == "__main__":
    main()

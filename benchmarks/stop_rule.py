"""What ``iterations: auto`` saves: train the demo swap for a fixed number of
iterations with its learning curve, then replay the stop rule on that curve.

A run with ``iterations: auto`` and ``stop.max_iterations`` equal to the fixed
budget follows the same trajectory until it stops (same seed, same batches,
same schedule), so the replay gives exactly where it would stop and what the
held-out figure is there. Prints, per (window, min_delta), the stop iteration,
the iterations saved and the held-out masked PSNR (mean of A and B, and A)
at the stop against the full budget; with the curve's cost in the run.

    python benchmarks/stop_rule.py --iterations 4000 [--faceset-a DIR --faceset-b DIR] [OVERRIDE ...]
    python benchmarks/stop_rule.py --curve results/model/<model>/curve.tsv
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from train_bench import CACHE, demo_facesets  # noqa: E402

from swapflow.io import read_json  # noqa: E402
from swapflow.train.config import compose_config  # noqa: E402
from swapflow.train.trainer import train  # noqa: E402
from swapflow.train.curve import score, stop_reason  # noqa: E402

RULES = [(4, 0.1), (4, 0.2), (2, 0.1), (8, 0.05)]  # (window, min_delta): the default first


def replay(curve: pd.DataFrame, window: int, min_delta: float) -> dict:
    """Where the rule stops on ``curve`` (its last point when it never fires)."""
    rows = curve.to_dict("records")
    stop = next((k for k in range(1, len(rows) + 1) if stop_reason(rows[:k], window, min_delta)), len(rows))
    at, last = rows[stop - 1], rows[-1]
    return {"window": window, "min_delta": min_delta, "stops at": int(at["iteration"]),
            "saved": f"{1 - at['iteration'] / max(last['iteration'], 1):.0%}",
            "score at stop": round(score(at), 2), "score at end": round(score(last), 2),
            "A at stop": round(at["recon_a_psnr_masked"], 2), "A at end": round(last["recon_a_psnr_masked"], 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=4000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--curve", type=Path, help="replay on this curve.tsv instead of training")
    p.add_argument("--faceset-a", type=Path, help="default: the demo woman's, built once")
    p.add_argument("--faceset-b", type=Path, help="default: the demo man's")
    p.add_argument("overrides", nargs="*", help="training overrides on top of lite")
    args = p.parse_args()
    curve_path = args.curve
    if curve_path is None:
        a, b = (args.faceset_a, args.faceset_b) if args.faceset_a else demo_facesets(CACHE)
        out = Path(tempfile.mkdtemp(prefix="stop_rule_"))
        cfg = compose_config(REPO / "config", "lite", [f"iterations={args.iterations}", *args.overrides])
        model = train(cfg, [a], [b], out / "model", out / "checkpoints", ("woman", "man"), args.threads)
        run = read_json(model / "manifest.json")["last_run"]
        print(f"model {model}: {run['iterations']} iterations in {run['seconds']:.0f} s, "
              f"the curve {run['curve_seconds']:.1f} s ({run['curve_seconds'] / run['seconds']:.1%})")
        curve_path = model / "curve.tsv"
    curve = pd.read_csv(curve_path, sep="\t")
    print(pd.DataFrame([replay(curve, w, d) for w, d in RULES]).to_markdown(index=False))


if __name__ == "__main__":
    main()

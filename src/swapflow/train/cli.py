"""``swapflow-train``: train a face-swap model from facesets on its own.

Under torchrun it trains in several processes, data-parallel, e.g. on the
4 GPUs of a node: ``torchrun --standalone --nproc-per-node 4 -m swapflow.train.cli ...``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from omegaconf import OmegaConf

from swapflow.io import InputError
from swapflow.train import distributed
from swapflow.train.config import compose_config
from swapflow.train.signals import TrainingInterrupted
from swapflow.train.start import Start
from swapflow.train.trainer import train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="swapflow-train", description=__doc__)
    p.add_argument("--faceset-a", nargs="+", required=True, metavar="DIR",
                   help="faceset folders of identity A (the face to put in)")
    p.add_argument("--faceset-b", nargs="+", required=True, metavar="DIR",
                   help="faceset folders of identity B (the face to replace)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--checkpoint-dir", help="checkpoint folder (default: OUT.checkpoint)")
    p.add_argument("--preset", default="lite", help="preset in CONFIG_DIR/model/")
    p.add_argument("--config", metavar="FILE",
                   help="a composed training config (a model folder's config.yaml) instead of "
                        "--preset, --config-dir and overrides")
    p.add_argument("--config-dir", default="config", help="folder holding train.yaml (default: ./config)")
    p.add_argument("--start-from", metavar="MODEL_DIR",
                   help="a trained model folder whose encoder, and the decoders of the identities it shares "
                        "with this one (by --names), this training starts from")
    p.add_argument("--freeze-encoder", type=int, default=0, metavar="N",
                   help="with --start-from: iterations in which only the decoders learn (default: 0)")
    p.add_argument("--names", nargs=2, default=("a", "b"), metavar=("A", "B"), help="identity names")
    p.add_argument("--threads", type=int, default=min(2, len(os.sched_getaffinity(0))),
                   help="torch CPU threads (default: 2, or the cores this process may use if fewer)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. iterations=200 model.lr=1e-4")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.config and args.overrides:
        print("swapflow-train: error: --config takes no overrides (edit the file)", file=sys.stderr)
        return 2
    process = (f" [process {os.environ['RANK']} of {os.environ['WORLD_SIZE']}]"
               if "WORLD_SIZE" in os.environ else "")
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s{process} %(message)s", datefmt="%H:%M:%S")
    try:
        if args.config:
            cfg = OmegaConf.load(args.config)
            OmegaConf.set_struct(cfg, True)
        else:
            cfg = compose_config(args.config_dir, args.preset, args.overrides)
        train(cfg, args.faceset_a, args.faceset_b, args.out,
              args.checkpoint_dir or f"{args.out.rstrip('/')}.checkpoint",
              identities=tuple(args.names), threads=args.threads,
              start=Start(Path(args.start_from), args.freeze_encoder) if args.start_from else None)
    except InputError as err:  # a config, faceset or checkpoint the user gave
        print(f"swapflow-train: error: {err}", file=sys.stderr)
        return 2
    except TrainingInterrupted as err:
        print(f"swapflow-train: {err}", file=sys.stderr)
        return 128 + err.signum
    finally:
        distributed.leave()
    return 0


if __name__ == "__main__":
    sys.exit(main())

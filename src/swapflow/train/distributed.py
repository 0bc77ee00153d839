"""Data-parallel training in several processes (PyTorch DistributedDataParallel).

torchrun starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK in
each; ``join`` makes them one process group (nccl on cuda, gloo on the cpu).
Every process builds its own share of each batch, the gradients are averaged
once per step, process 0 writes every file, and all stop at the same step.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf

from swapflow.io import atomic_path
from swapflow.train.config import process_share

if TYPE_CHECKING:
    from swapflow.train.start import Start

log = logging.getLogger("swapflow.train")


@dataclass(frozen=True)
class Group:
    """This process's place among the training processes."""
    rank: int = 0
    size: int = 1
    joined: bool = False   # in a process group (also a group of one under torchrun)

    @property
    def main(self) -> bool:
        """Process 0, the one that logs progress and writes files."""
        return self.rank == 0

    def share(self, batch_size: int) -> range:
        """The positions of each batch this process builds and trains on."""
        n = process_share(batch_size, self.size)
        return range(self.rank * n, (self.rank + 1) * n)


def local_rank() -> int:
    """This process's index on its node (torchrun's LOCAL_RANK; 0 without torchrun)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def join(device: torch.device) -> Group:
    """The process group torchrun started this process in; a group of one
    (not joined) when it was not started by torchrun."""
    if "WORLD_SIZE" not in os.environ:
        return Group()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
    return Group(dist.get_rank(), dist.get_world_size(), joined=True)


def leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def gather(values: torch.Tensor, group: Group) -> torch.Tensor:
    """``values`` of every process stacked (processes x values); only this
    process's row in a group of one."""
    if not group.joined:
        return values[None]
    rows = [torch.empty_like(values) for _ in range(group.size)]
    dist.all_gather(rows, values)
    return torch.stack(rows)


def check_same_weights(model: torch.nn.Module, group: Group, iteration: int) -> None:
    """Raise if the processes' weights differ (they never should)."""
    if group.size == 1:
        return
    rows = gather(torch.stack([p.detach().double().sum() for p in model.parameters()]), group)
    if not bool((rows == rows[0]).all()):
        raise RuntimeError(f"the weights of the {group.size} training processes differ at iteration {iteration}")
    log.info("weights identical in all %d processes at iteration %d", group.size, iteration)


def torchrun(processes: int, args: list[str]) -> list[str]:
    """The command that runs ``swapflow-train args`` as ``processes`` processes on this node."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={processes}", "-m", "swapflow.train.cli", *args]


def launch(cfg: DictConfig, facesets_a: list[str | Path], facesets_b: list[str | Path],
           out: str | Path, checkpoint_dir: str | Path, identities: tuple[str, str],
           processes: int, threads: int, log: Path, start: Start | None = None) -> int:
    """``swapflow.train.trainer.train`` of these arguments as ``processes`` processes of
    ``threads`` torch threads each under torchrun (the config goes to
    ``checkpoint_dir``/train.yaml), their output appended to ``log``. SIGTERM
    and SIGINT are passed on (the processes write one checkpoint and stop);
    returns the exit status, 128 + the signal when one stopped training."""
    config = Path(checkpoint_dir) / "train.yaml"
    with atomic_path(config) as tmp:
        tmp.write_text(OmegaConf.to_yaml(cfg))
    args = ["--config", str(config), "--faceset-a", *map(str, facesets_a), "--faceset-b",
            *map(str, facesets_b), "--out", str(out), "--checkpoint-dir", str(checkpoint_dir),
            "--names", *identities, "--threads", str(threads)]
    if start:
        args += ["--start-from", str(start.folder), "--freeze-encoder", str(start.freeze_encoder)]
    caught: list[int] = []
    env = os.environ | {"OMP_NUM_THREADS": str(threads)}
    with open(log, "a") as stream:
        proc = subprocess.Popen(torchrun(processes, args), stdout=stream, stderr=subprocess.STDOUT, env=env)

        def forward(signum: int, _frame: object) -> None:
            caught.append(signum)
            proc.send_signal(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, forward)
        status = proc.wait()
    return 128 + caught[0] if caught and status else status

"""Snakemake adapter of the train rule: facesets A and B -> model folder.

The training config was composed when the workflow was parsed (params.config).
With resources.gpu > 1 it trains as that many data-parallel processes under
torchrun, which share the job's threads. On SIGTERM (a SLURM time limit) the
library writes a checkpoint in params.checkpoint_dir, outside the rule's
outputs; the job exits 128+signal and its retry resumes there.
"""

import logging
import sys
from pathlib import Path

from omegaconf import OmegaConf

from swapflow.logs import log_to
from swapflow.train.signals import TrainingInterrupted
from swapflow.train.start import Start
from swapflow.train.trainer import train
from swapflow.train.distributed import launch

log_to(snakemake.log[0])
params = snakemake.params
cfg = OmegaConf.create(dict(params.config))
OmegaConf.set_struct(cfg, True)
start = Start(Path(params.start["folder"]), params.start["freeze_encoder"]) if params.start else None
processes = max(1, snakemake.resources.gpu)
if processes > 1:
    sys.exit(launch(cfg, snakemake.input.a, snakemake.input.b, snakemake.output.model,
                    params.checkpoint_dir, tuple(params.identities), processes,
                    max(1, snakemake.threads // processes), Path(snakemake.log[0]), start))
try:
    train(cfg, list(snakemake.input.a), list(snakemake.input.b), snakemake.output.model,
          params.checkpoint_dir, identities=tuple(params.identities), threads=snakemake.threads,
          start=start)
except TrainingInterrupted as err:
    logging.getLogger("swapflow.train").warning("%s", err)
    sys.exit(128 + err.signum)

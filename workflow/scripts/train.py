"""Snakemake adapter of the train rule: facesets A and B -> model folder.

On SIGTERM (a SLURM time limit) the library writes a checkpoint in
params.checkpoint_dir, outside the rule's outputs; the job exits 128+signal
and its retry resumes there.
"""

import logging
import sys

from swapflow.io import log_to
from swapflow.train import TrainingInterrupted, compose_config, train

log_to(snakemake.log[0])
params = snakemake.params
overrides = list(params.overrides)
if params.iterations:
    overrides.append(f"iterations={params.iterations}")
cfg = compose_config(params.config_dir, params.preset, overrides)
try:
    train(cfg, list(snakemake.input.a), list(snakemake.input.b), snakemake.output.model,
          params.checkpoint_dir, identities=tuple(params.identities), threads=snakemake.threads)
except TrainingInterrupted as err:
    logging.getLogger("swapflow.train").warning("%s", err)
    sys.exit(128 + err.signum)

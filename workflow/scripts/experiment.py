"""Snakemake adapter of the experiment rule: the metrics of every grid point,
seed and video -> the experiment's table, differences and figures."""

import pandas as pd

from swapflow.experiments import write_experiment
from swapflow.io import read_json
from swapflow.logs import log_to

log_to(snakemake.log[0])
points = snakemake.params.points
rows = pd.DataFrame([row | read_json(path) for row, path in zip(points["rows"], snakemake.input.metrics)])
write_experiment(rows, points["settings"], snakemake.output.table, snakemake.output.differences,
                 snakemake.output.figures)

from swapflow import demo
from swapflow.io import log_to

log_to(snakemake.log[0])
demo.fetch(snakemake.params.dest, tuple(snakemake.params.files))

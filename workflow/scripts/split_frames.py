from swapflow.logs import log_to
from swapflow.video.split import split

log_to(snakemake.log[0])
split(snakemake.input[0], snakemake.output.frames, snakemake.output.probe, cfg=snakemake.params.cfg)

from swapflow import video
from swapflow.logs import log_to

log_to(snakemake.log[0])
video.split(snakemake.input[0], snakemake.output.frames, snakemake.output.probe,
            snakemake.params.cfg)

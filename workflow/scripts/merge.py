from swapflow import video
from swapflow.logs import log_to

log_to(snakemake.log[0])
probe = video.Probe.load(snakemake.input.probe)
video.merge(snakemake.input.frames, probe, snakemake.output[0], snakemake.params.cfg)

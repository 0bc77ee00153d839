from swapflow.logs import log_to
from swapflow.video.merge import merge
from swapflow.video.probe import Probe

log_to(snakemake.log[0])
probe = Probe.load(snakemake.input.probe)
merge(snakemake.input.frames, probe, snakemake.output[0], cfg=snakemake.params.cfg)

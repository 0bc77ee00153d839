import pandas as pd

from swapflow import video
from swapflow.convert import check_alignments, convert_frames, load_swapper
from swapflow.io import log_to

log_to(snakemake.log[0])
probe = video.Probe.load(snakemake.input.probe)
alignments = pd.read_parquet(snakemake.input.alignments)
check_alignments(alignments, probe.frames, probe.width, probe.height, snakemake.input.alignments)
model = load_swapper(snakemake.input.model, *snakemake.params.identities)
convert_frames(video.list_frames(snakemake.input.frames), alignments, model,
               snakemake.output[0], snakemake.params.cfg, snakemake.params.frames)

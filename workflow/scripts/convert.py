"""Rule convert: one shard of a video's frames + alignments + model -> swapped frames."""

import pandas as pd

from swapflow import video
from swapflow.alignments import read_alignments
from swapflow.convert import convert_frames, load_swapper
from swapflow.frames import list_frames
from swapflow.io import log_to

log_to(snakemake.log[0])
probe = video.Probe.load(snakemake.input.probe)
alignments = read_alignments(snakemake.input.alignments, probe.frames, probe.width, probe.height)
model = load_swapper(snakemake.input.model, *snakemake.params.identities)
size = snakemake.params.shard_size
start = int(snakemake.wildcards.shard) * size
frames = list_frames(snakemake.input.frames)
hands = pd.read_parquet(snakemake.input.hands) if snakemake.input.hands else None
convert_frames(frames[start:start + size], alignments, model, snakemake.output.frames,
               snakemake.params.cfg, snakemake.params.frames, snakemake.output.patches,
               hands, frames, snakemake.output.outlines)

"""Rule faceset: frames + alignments + masks -> faceset folder + contact sheet."""

import pandas as pd

from swapflow.io import log_to
from swapflow import video
from swapflow.extract import build_faceset
from swapflow.faceset import contact_sheet

log_to(snakemake.log[0])
frames = video.list_frames(snakemake.input.frames)
alignments = pd.read_parquet(snakemake.input.alignments)
build_faceset(frames, alignments, snakemake.input.masks, snakemake.output[0], snakemake.params.cfg)
contact_sheet(snakemake.output[0], snakemake.output.sheet)

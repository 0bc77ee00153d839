"""Rule faceset: frames + alignments + masks -> faceset folder + contact sheet."""

import pandas as pd

from swapflow.extract import build_faceset, list_frames, log_to_file
from swapflow.faceset import contact_sheet

log_to_file(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
alignments = pd.read_parquet(snakemake.input.alignments)
build_faceset(frames, alignments, snakemake.input.masks, snakemake.output[0], snakemake.params.cfg)
contact_sheet(snakemake.output[0], snakemake.output.sheet)

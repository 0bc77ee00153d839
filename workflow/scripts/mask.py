"""Rule mask: frames + alignments -> masks .npz (aligned space, kept faces)."""

import pandas as pd

from swapflow.io import log_to
from swapflow import video
from swapflow.extract import mask_frames, write_masks

log_to(snakemake.log[0])
frames = video.list_frames(snakemake.input.frames)
alignments = pd.read_parquet(snakemake.input.alignments)
write_masks(snakemake.output[0], mask_frames(frames, alignments, snakemake.params.cfg))

"""Rule mask: frames + alignments -> masks .npz (aligned space, kept faces)."""

import pandas as pd

from swapflow.extract import list_frames, log_to_file, mask_frames, write_masks

log_to_file(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
alignments = pd.read_parquet(snakemake.input.alignments)
write_masks(snakemake.output[0], mask_frames(frames, alignments, snakemake.params.cfg))

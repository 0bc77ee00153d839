"""Rule align: frames + detections -> alignments parquet."""

import pandas as pd

from swapflow.extract import align_frames, list_frames, log_to_file
from swapflow.io import write_parquet

log_to_file(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
detections = pd.read_parquet(snakemake.input.detections)
table = align_frames(frames, detections, snakemake.params.cfg, list(snakemake.params.references))
write_parquet(snakemake.output[0], table)

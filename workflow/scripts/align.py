"""Rule align: frames + detections -> alignments parquet."""

import pandas as pd

from swapflow import video
from swapflow.extract import align_frames
from swapflow.io import log_to, write_parquet

log_to(snakemake.log[0])
frames = video.list_frames(snakemake.input.frames)
detections = pd.read_parquet(snakemake.input.detections)
table = align_frames(frames, detections, snakemake.params.cfg, list(snakemake.params.references))
probe = video.Probe.load(snakemake.input.probe)
table.attrs.update(frames=probe.frames, width=probe.width, height=probe.height)
write_parquet(snakemake.output[0], table)

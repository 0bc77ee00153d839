"""Rule detect: frames folder -> detections parquet."""

from swapflow import video
from swapflow.extract import detect_frames
from swapflow.io import log_to, write_parquet

log_to(snakemake.log[0])
frames = video.list_frames(snakemake.input.frames)
write_parquet(snakemake.output[0], detect_frames(frames, snakemake.params.cfg))

"""Rule detect: frames folder -> detections parquet."""

from swapflow.extract import detect_frames, list_frames, log_to_file
from swapflow.io import write_parquet

log_to_file(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
write_parquet(snakemake.output[0], detect_frames(frames, snakemake.params.cfg))

"""Rule detect: one shard of a video's frames -> faces with raw landmarks."""

from swapflow.frames import list_frames
from swapflow.extract import extract_frames
from swapflow.io import log_to, write_parquet

log_to(snakemake.log[0])
size = snakemake.params.shard_size
start = int(snakemake.wildcards.shard) * size
frames = list_frames(snakemake.input.frames)[start:start + size]
table = extract_frames(frames, snakemake.params.cfg)
write_parquet(snakemake.output[0], table)

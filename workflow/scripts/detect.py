"""Rule detect: one shard of a video's frames -> faces with raw landmarks."""

from swapflow.frames import list_frames
from swapflow.extract import extract_frames
from swapflow.io import write_parquet
from swapflow.logs import log_to
from swapflow.pipeline import shard_frames

log_to(snakemake.log[0])
frames = shard_frames(list_frames(snakemake.input.frames), snakemake.wildcards.shard, snakemake.params.shard_size)
table = extract_frames(frames, snakemake.params.cfg)
write_parquet(snakemake.output[0], table)

"""Rule convert: one shard of a video's frames + alignments + model -> swapped frames."""

import logging
import os

import pandas as pd

from swapflow.alignments import read_alignments
from swapflow.convert import convert_frames, load_swapper
from swapflow.frames import list_frames
from swapflow.logs import log_to
from swapflow.pipeline import shard_frames
from swapflow.train.device import limit_threads
from swapflow.video.probe import Probe

log_to(snakemake.log[0])
# the rule's threads, not every core: Snakemake runs as many convert jobs as the cores allow
limit_threads(snakemake.threads, opencv=True)
logging.getLogger("swapflow.convert").info("%d torch and OpenCV threads (OMP_WAIT_POLICY %s)", snakemake.threads,
                                           os.environ.get("OMP_WAIT_POLICY", "unset"))
probe = Probe.load(snakemake.input.probe)
alignments = read_alignments(snakemake.input.alignments, probe.frames, probe.width, probe.height)
model = load_swapper(snakemake.input.model, *snakemake.params.identities)
frames = list_frames(snakemake.input.frames)
convert_frames(shard_frames(frames, snakemake.wildcards.shard, snakemake.params.shard_size), alignments, model,
               snakemake.output.frames, cfg=snakemake.params.cfg, frames=snakemake.params.frames,
               patches_dir=snakemake.output.patches, outlines_path=snakemake.output.outlines,
               hands=pd.read_parquet(snakemake.input.hands) if snakemake.input.hands else None,
               video_frames=frames)

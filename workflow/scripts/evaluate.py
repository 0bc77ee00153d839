import pandas as pd

from swapflow.alignments import read_alignments
from swapflow.frames import list_frames
from swapflow.evaluate import evaluate_swap
from swapflow.io import atomic_path, write_json
from swapflow.logs import log_to
from swapflow.report import before_after_strip, clip_page
from swapflow.video.read import VideoFrames

log_to(snakemake.log[0])
cfg = dict(snakemake.params.cfg)
original = list_frames(snakemake.input.original)
alignments = read_alignments(snakemake.input.alignments)
with VideoFrames(snakemake.input.video) as output:
    metrics, faces = evaluate_swap(original, output, alignments, snakemake.input.model,
                                   list(snakemake.input.facesets_a), list(snakemake.input.facesets_b), cfg,
                                   pd.read_csv(snakemake.input.coverage, sep="\t"))
    outlines = pd.concat([pd.read_parquet(p) for p in snakemake.input.outlines], ignore_index=True)
    before_after_strip(original, output, alignments, snakemake.output.strip, outlines)
write_json(snakemake.output.json, metrics)
with atomic_path(snakemake.output.tsv) as tmp:
    faces.to_csv(tmp, sep="\t", index=False)
clip_page(snakemake.input.video, snakemake.output.clip)

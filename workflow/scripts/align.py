"""Rule align: the detection shards of a video -> alignments parquet."""

import pandas as pd

from swapflow import video
from swapflow.extract import align_faces
from swapflow.io import log_to, write_parquet

log_to(snakemake.log[0])
raw = pd.concat([pd.read_parquet(path) for path in snakemake.input.shards], ignore_index=True)
table = align_faces(raw, snakemake.params.cfg, list(snakemake.params.references),
                    snakemake.params.reference_detect)
probe = video.Probe.load(snakemake.input.probe)
table.attrs.update(frames=probe.frames, width=probe.width, height=probe.height)
write_parquet(snakemake.output[0], table)

"""Rule align: the detection shards of a video -> alignments parquet."""

import pandas as pd

from swapflow import video
from swapflow.extract import align_faces
from swapflow.io import log_to, write_parquet

log_to(snakemake.log[0])
params = snakemake.params
raw = pd.concat([pd.read_parquet(path) for path in snakemake.input.shards], ignore_index=True)
name = f"video {snakemake.wildcards.video} (identity {', '.join(params.identities) or '-'})"
table = align_faces(raw, params.cfg, list(params.references), params.reference_detect, name)
probe = video.Probe.load(snakemake.input.probe)
table.attrs.update(frames=probe.frames, width=probe.width, height=probe.height)
write_parquet(snakemake.output[0], table)

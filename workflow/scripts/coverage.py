"""Rule coverage: an identity's curated facesets + a target video's alignments -> chart, faces table, figures."""

import logging

from swapflow.alignments import read_alignments
from swapflow.coverage import coverage_chart, frame_ranges, pose_coverage, source_faces, target_faces
from swapflow.io import atomic_path, write_json
from swapflow.logs import log_to
from swapflow.settings import CoverageConfig

log_to(snakemake.log[0])
cfg = CoverageConfig(**snakemake.params.cfg)
face, target = snakemake.wildcards.identity, snakemake.wildcards.video
source = source_faces(snakemake.input.facesets, mirror=snakemake.params.mirror)
table, figures = pose_coverage(source, target_faces(read_alignments(snakemake.input.alignments)), cfg)
logging.info("%s's %d faces%s cover %d of %d target faces; not covered: frames %s", face, figures["source_faces"],
             " and their mirror images" if figures["mirrored"] else "", len(table) - figures["uncovered_faces"],
             len(table), frame_ranges(figures["uncovered_frames"]) or "none")
coverage_chart(source, table, figures, (face, target), cfg, snakemake.output.chart)
with atomic_path(snakemake.output.tsv) as tmp:
    table.to_csv(tmp, sep="\t", index=False)
write_json(snakemake.output.json, {"face": face, "video": target, **figures})

"""Rule faceset: frames + alignments + masks -> curated faceset folder, its contact
sheet, the removed faces' sheet and the curation counts."""

from swapflow.alignments import read_alignments
from swapflow.curate import counts, removed_sheet
from swapflow.extract import build_faceset
from swapflow.faceset import contact_sheet
from swapflow.frames import list_frames
from swapflow.io import atomic_path
from swapflow.logs import log_to
from swapflow.settings import CurateConfig

log_to(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
alignments = read_alignments(snakemake.input.alignments)
curation = CurateConfig(**snakemake.params.curate)
record = build_faceset(frames, alignments, snakemake.input.masks, snakemake.output.faceset,
                       snakemake.params.cfg, curation)
contact_sheet(snakemake.output.faceset, snakemake.output.sheet)
removed_sheet(frames, alignments, record, snakemake.output.removed)
with atomic_path(snakemake.output.counts) as tmp:
    counts(record, curation).to_csv(tmp, sep="\t", index=False)

"""Rule faceset: frames + alignments + masks -> faceset folder + contact sheet."""

from swapflow.io import log_to
from swapflow.alignments import read_alignments
from swapflow.frames import list_frames
from swapflow.extract import build_faceset
from swapflow.faceset import contact_sheet

log_to(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
alignments = read_alignments(snakemake.input.alignments)
build_faceset(frames, alignments, snakemake.input.masks, snakemake.output[0], snakemake.params.cfg)
contact_sheet(snakemake.output[0], snakemake.output.sheet)

"""Rule mask: frames + alignments -> masks .npz (aligned space, kept faces)."""

from swapflow.logs import log_to
from swapflow.alignments import read_alignments
from swapflow.frames import list_frames
from swapflow.extract import mask_frames
from swapflow.mask import write_masks

log_to(snakemake.log[0])
frames = list_frames(snakemake.input.frames)
alignments = read_alignments(snakemake.input.alignments)
write_masks(snakemake.output[0], mask_frames(frames, alignments, snakemake.params.cfg))

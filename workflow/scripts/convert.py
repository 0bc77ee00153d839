"""Rule convert: frames + alignments + model -> swapped frames."""

from swapflow import video
from swapflow.alignments import read_alignments
from swapflow.convert import convert_frames, load_swapper
from swapflow.frames import list_frames
from swapflow.io import log_to

log_to(snakemake.log[0])
probe = video.Probe.load(snakemake.input.probe)
alignments = read_alignments(snakemake.input.alignments, probe.frames, probe.width, probe.height)
model = load_swapper(snakemake.input.model, *snakemake.params.identities)
convert_frames(list_frames(snakemake.input.frames), alignments, model,
               snakemake.output[0], snakemake.params.cfg, snakemake.params.frames)

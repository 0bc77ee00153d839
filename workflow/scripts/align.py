"""Rule align: the detect shards of a video and its identities' references -> alignments."""

from swapflow.alignments import read_shards, write_alignments
from swapflow.extract import align_faces
from swapflow.identity import Reference
from swapflow.logs import log_to
from swapflow.video.probe import Probe

log_to(snakemake.log[0])
references = [Reference.load(path) for path in snakemake.input.references]
aligned = align_faces(read_shards(snakemake.input.shards), snakemake.params.cfg, references,
                      f"video {snakemake.wildcards.video}")
probe = Probe.load(snakemake.input.probe)
write_alignments(snakemake.output[0], aligned, probe.frames, probe.width, probe.height)

"""Rule align: the detect shards of a video and its identities' references -> alignments,
with the faces the detector lost between frames recovered."""

from swapflow.alignments import read_shards, write_alignments
from swapflow.extract import align_faces
from swapflow.frames import list_frames
from swapflow.identity import Reference
from swapflow.logs import log_to
from swapflow.track import recover_faces
from swapflow.video.probe import Probe

log_to(snakemake.log[0])
references = [Reference.load(path) for path in snakemake.input.references]
raw = recover_faces(read_shards(snakemake.input.shards), list_frames(snakemake.input.frames),
                    **snakemake.params.lost_faces)
aligned = align_faces(raw, snakemake.params.cfg, references, f"video {snakemake.wildcards.video}")
probe = Probe.load(snakemake.input.probe)
write_alignments(snakemake.output[0], aligned, probe.frames, probe.width, probe.height)

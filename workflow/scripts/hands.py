"""Rule hands: frames + alignments -> the hands tracked in the frames with kept faces."""

from swapflow.alignments import kept_faces, read_alignments
from swapflow.frames import list_frames
from swapflow.io import write_parquet
from swapflow.logs import log_to
from swapflow.occlusion.hands import track_hands

log_to(snakemake.log[0])
faces = kept_faces(read_alignments(snakemake.input.alignments))
hands = track_hands(list_frames(snakemake.input.frames), faces["frame"],
                    snakemake.params.cfg["confidence"])
write_parquet(snakemake.output[0], hands)

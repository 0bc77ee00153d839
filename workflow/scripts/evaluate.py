from swapflow.alignments import read_alignments
from swapflow.frames import list_frames
from swapflow.evaluate import before_after_strip, evaluate_swap
from swapflow.io import atomic_path, log_to, write_json

log_to(snakemake.log[0])
cfg = dict(snakemake.params.cfg)
original = list_frames(snakemake.input.original)
converted = list_frames(snakemake.input.converted)
alignments = read_alignments(snakemake.input.alignments)
metrics, faces = evaluate_swap(original, converted, alignments, snakemake.input.model,
                               list(snakemake.input.facesets_a), list(snakemake.input.facesets_b), cfg)
write_json(snakemake.output.json, metrics)
with atomic_path(snakemake.output.tsv) as tmp:
    faces.to_csv(tmp, sep="\t", index=False)
before_after_strip(original, converted, alignments, snakemake.output.strip)

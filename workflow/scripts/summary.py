from swapflow.evaluate import summarize
from swapflow.io import atomic_path, log_to

log_to(snakemake.log[0])

table = summarize(dict(zip(snakemake.params.names, snakemake.input)))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, sep="\t", index=False)

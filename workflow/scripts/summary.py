from swapflow.evaluate import summarize
from swapflow.io import atomic_path, log_to

log_to(snakemake.log[0])
names = snakemake.params.names
table = summarize(dict(zip(names, snakemake.input)), dict(zip(names, snakemake.params.settings)))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, sep="\t", index=False)

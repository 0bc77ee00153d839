from swapflow.evaluate import summarize
from swapflow.io import atomic_path, log_to

log_to(snakemake.log[0])
names = snakemake.params.names
files = {name: [metrics, coverage] for name, metrics, coverage in
         zip(names, snakemake.input.metrics, snakemake.input.coverage)}
table = summarize(files, dict(zip(names, snakemake.params.settings)))
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, sep="\t", index=False)

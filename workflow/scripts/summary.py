from swapflow.summary import summarize
from swapflow.io import atomic_path
from swapflow.logs import log_to

log_to(snakemake.log[0])
settings = dict(snakemake.params.settings)  # swap/video -> settings, in the inputs' order
names = list(settings)
files = {name: [metrics, coverage] for name, metrics, coverage in
         zip(names, snakemake.input.metrics, snakemake.input.coverage)}
table = summarize(files, settings)
with atomic_path(snakemake.output[0]) as tmp:
    table.to_csv(tmp, sep="\t", index=False)

from swapflow.io import atomic_path, dump_yaml
from swapflow.logs import log_to

log_to(snakemake.log[0])
with atomic_path(snakemake.output[0]) as tmp:
    tmp.write_text(dump_yaml(dict(snakemake.params.config)))

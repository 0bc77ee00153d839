import yaml

from swapflow.io import atomic_path, log_to

log_to(snakemake.log[0])
with atomic_path(snakemake.output[0]) as tmp:
    tmp.write_text(yaml.safe_dump(dict(snakemake.params.config), sort_keys=False))

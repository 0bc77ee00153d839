"""Rule reference: an identity's reference stills -> its reference embedding."""

from swapflow.extract import embed_stills
from swapflow.logs import log_to

log_to(snakemake.log[0])
embed_stills(snakemake.wildcards.identity, list(snakemake.input), snakemake.params.cfg).save(snakemake.output[0])

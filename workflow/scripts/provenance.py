from swapflow.io import log_to, write_json
from swapflow.provenance import provenance

log_to(snakemake.log[0])
write_json(snakemake.output[0], provenance(snakemake.input.model, snakemake.input.probe,
                                           snakemake.input.video, snakemake.params.settings))

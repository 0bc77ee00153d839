from swapflow.io import write_json
from swapflow.logs import log_to
from swapflow.provenance import provenance

log_to(snakemake.log[0])
write_json(snakemake.output[0], provenance(snakemake.input.model, snakemake.input.probe,
                                           snakemake.input.video, snakemake.params.settings))

from snakemake.utils import min_version, validate

from swapflow.config import use_own_inputs

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


# a config given with --configfile brings its own videos, identities and swaps
use_own_inputs(config, workflow.config_settings.overwrite_config)
SCHEMA = "workflow/schemas/config.schema.yaml"
validate(config, SCHEMA)


include: "workflow/rules/common.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/convert.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        all_outputs(),

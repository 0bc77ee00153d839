from pathlib import Path

from snakemake.utils import min_version

from swapflow.config import use_own_inputs, validate_config
from swapflow.io import load_yaml

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


# a config given with --configfile brings its own videos, identities and swaps
use_own_inputs(config, workflow.config_settings.overwrite_config)
# one line per problem (Snakemake's validate() prints the whole schema), then defaults
validate_config(
    config, load_yaml(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
)


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

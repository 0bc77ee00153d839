import os

from snakemake.utils import min_version

from swapflow.config import expand_experiments, use_own_inputs, validate_config
from swapflow.io import load_yaml

min_version("9.0")


# The image every job runs in with `--sdm apptainer` (README, "Running in a
# container"), built from Dockerfile or workflow/container/swapflow.def;
# SWAPFLOW_IMAGE names another (a CUDA tag, a local .sif). Unused without it.
containerized: os.environ.get("SWAPFLOW_IMAGE", "docker://ghcr.io/swapflow/swapflow:0.1.0")


# The folder of this Snakefile: the schema and the training presets are found from
# it. workflow.basedir is the main Snakefile's folder, which is another project's
# when swapflow is used as a module there (the folder may also be a git host's).
WORKFLOW_DIR = workflow.current_basedir


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


# a config given with --configfile brings its own videos, identities and swaps
use_own_inputs(config, workflow.config_settings.overwrite_config)
SCHEMA = load_yaml(workflow.source_path("workflow/schemas/config.schema.yaml"))
# one line per problem (Snakemake's validate() prints the whole schema), then defaults
validate_config(config, SCHEMA)
# each experiment's grid points and seeds become swaps (marked `experiment`)
EXPERIMENTS = expand_experiments(config, SCHEMA)


include: "workflow/rules/common.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/convert.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/experiments.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
        convert_side_outputs,

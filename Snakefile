import os
import sys
from importlib.metadata import version

from snakemake.settings.types import DeploymentMethod
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from swapflow.config import (
    expand_experiments,
    load_schema,
    other_run,
    use_own_inputs,
    validate_config,
)

min_version("9.0")


# The image every job runs in with `--sdm apptainer`: one the user builds from
# Dockerfile or workflow/container/swapflow.def and names with SWAPFLOW_IMAGE (a
# .sif file, or docker:// of a registry they pushed it to; README, "Running in a
# container"). No image is published, so none is named without it.
IMAGE = os.environ.get("SWAPFLOW_IMAGE")
if IMAGE:

    containerized: IMAGE

elif DeploymentMethod.APPTAINER in workflow.deployment_settings.deployment_method:
    raise WorkflowError(
        "--sdm apptainer runs every job in swapflow's image, which you build once and "
        f"name with SWAPFLOW_IMAGE, e.g. SWAPFLOW_IMAGE=$PWD/swapflow-{version('swapflow')}.sif "
        '(README, "Running in a container")'
    )


# The folder of this Snakefile: the schema and the training presets are found from
# it. workflow.basedir is the main Snakefile's folder, which is another project's
# when swapflow is used as a module there (the folder may also be a git host's).
WORKFLOW_DIR = workflow.current_basedir


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


# a config given with --configfile brings its own videos, identities and swaps
use_own_inputs(config, workflow.config_settings.overwrite_config)
# the schema file's inputs and structure, with the settings sections of swapflow.settings
SCHEMA = load_schema(workflow.source_path("workflow/schemas/config.schema.yaml"))
# one line per problem (Snakemake's validate() prints the whole schema), then defaults
validate_config(config, SCHEMA)
# each experiment's grid points and seeds become swaps (marked `experiment`)
EXPERIMENTS = expand_experiments(config, SCHEMA)
# a report shows what this config plans: after a run of another, say which to pass
reporting = any(arg.split("=")[0] == "--report" for arg in sys.argv)
if reporting and (hint := other_run(config, "results/config.yaml")):
    print(f"swapflow: {hint}", file=sys.stderr)


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

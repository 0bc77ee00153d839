from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


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

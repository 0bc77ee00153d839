from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/video.smk"
include: "workflow/rules/extract.smk"


rule all:
    default_target: True
    input:
        all_outputs(),

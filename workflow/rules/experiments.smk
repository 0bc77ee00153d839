wildcard_constraints:
    experiment="|".join(map(re.escape, EXPERIMENTS)) or "^$",


rule experiment:
    input:
        metrics=experiment_metrics,
    output:
        table=report(
            "results/experiments/{experiment}/table.tsv",
            caption="../report/experiment.rst",
            category="Experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "table: mean, sd, n"},
        ),
        differences=report(
            "results/experiments/{experiment}/differences.tsv",
            caption="../report/differences.rst",
            category="Experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "table: differences"},
        ),
        figures=report(
            directory("results/experiments/{experiment}/figures"),
            patterns=["{metric}.png"],
            caption="../report/experiment_figure.rst",
            category="Experiments",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "figure": "{metric}"},
        ),
    log:
        "logs/experiments/{experiment}.log",
    benchmark:
        "benchmarks/out/experiments/{experiment}.tsv"
    # small: written where snakemake runs, not worth a cluster job
    localrule: True
    conda:
        ENV
    params:
        # one row per input: swap, video, seed and the swept settings
        points=sealed(experiment_points),
    script:
        "../scripts/experiment.py"


# `snakemake experiments`: every experiment's tables and figures
rule experiments:
    input:
        expand("results/experiments/{experiment}/table.tsv", experiment=EXPERIMENTS),

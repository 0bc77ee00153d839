rule evaluate:
    input:
        original="results/frames/{video}",
        video="results/swap/{swap}/{video}.mp4",
        alignments="results/align/{video}.parquet",
        outlines=lambda wildcards: convert_shards(
            "results/outlines/{swap}/{video}/{shard}.parquet", wildcards
        ),
        model=swap_model,
        facesets_a=swap_facesets("face"),
        facesets_b=swap_facesets("target"),
        coverage=lambda wildcards: coverage_file(
            f"{wildcards.swap}/{wildcards.video}", ".tsv"
        ),
    output:
        json="results/evaluate/{swap}/{video}.json",
        tsv="results/evaluate/{swap}/{video}.tsv",
        strip=report(
            "results/evaluate/{swap}/{video}.jpg",
            caption="../report/strip.rst",
            category="Swaps",
            subcategory="{swap}",
            labels={"swap": "{swap}", "video": "{video}", "figure": "before | after"},
        ),
        clip=report(
            "results/evaluate/{swap}/{video}.html",
            caption="../report/clip.rst",
            category="Swaps",
            subcategory="{swap}",
            labels={"swap": "{swap}", "video": "{video}", "figure": "video"},
        ),
    log:
        "logs/evaluate/{swap}/{video}.log",
    benchmark:
        "benchmarks/out/evaluate/{swap}/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=sealed(settings(EvaluateConfig)),
    script:
        "../scripts/evaluate.py"


rule summary:
    input:
        metrics=[f"results/evaluate/{name}.json" for name in swap_video_names()],
        coverage=[coverage_file(name, ".json") for name in swap_video_names()],
    output:
        report(
            "results/evaluate/summary.tsv",
            caption="../report/summary.rst",
            category="Metrics",
            labels={"table": "all swaps"},
        ),
    log:
        "logs/summary.log",
    benchmark:
        "benchmarks/out/summary.tsv"
    # small: written where snakemake runs, not worth a cluster job
    localrule: True
    conda:
        ENV
    params:
        # swap/video -> its settings, in the order of the inputs
        settings=sealed(
            {
                name: PLAN.swap_settings(name.split("/")[0])
                for name in swap_video_names()
            }
        ),
    script:
        "../scripts/summary.py"


rule provenance:
    input:
        video="results/swap/{swap}/{video}.mp4",
        probe="results/probe/{video}.json",
        model=swap_model,
    output:
        report(
            "results/provenance/{swap}/{video}.json",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"swap": "{swap}", "video": "{video}"},
        ),
    log:
        "logs/provenance/{swap}/{video}.log",
    benchmark:
        "benchmarks/out/provenance/{swap}/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        settings=sealed(
            lambda wildcards: {
                "swap": wildcards.swap,
                "video": wildcards.video,
                **PLAN.swap_settings(wildcards.swap),
                **PLAN.faceset_recipe(wildcards.video),
            }
        ),
    script:
        "../scripts/provenance.py"


rule models:
    output:
        report(
            "results/models.tsv",
            caption="../report/models.rst",
            category="Training",
            labels={"table": "models"},
        ),
    log:
        "logs/models.log",
    benchmark:
        "benchmarks/out/models.tsv"
    # small: written where snakemake runs, not worth a cluster job
    localrule: True
    conda:
        ENV
    params:
        rows=[
            {
                "model": name,
                "face": m["identities"][0],
                "target": m["identities"][1],
                "preset": m["config"]["preset"],
                "iterations": m["config"]["iterations"],
                "start": m["start"]["model"] if m["start"] else "",
                "swaps": " ".join(m["swaps"]),
            }
            for name, m in MODELS.items()
        ],
    script:
        "../scripts/models.py"


rule config_used:
    output:
        report(
            "results/config.yaml",
            caption="../report/config.rst",
            category="Configuration",
            labels={"file": "config.yaml"},
        ),
    log:
        "logs/config_used.log",
    benchmark:
        "benchmarks/out/config_used.tsv"
    # small: written where snakemake runs, not worth a cluster job
    localrule: True
    conda:
        ENV
    params:
        config=sealed(PLAN.given_config()),
    script:
        "../scripts/config_used.py"

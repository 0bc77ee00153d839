rule evaluate:
    input:
        original="results/frames/{video}",
        converted="results/convert/{swap}/{video}",
        alignments="results/align/{video}.parquet",
        model="results/model/{swap}",
        facesets_a=lambda wildcards: identity_facesets(
            swap_by_name(wildcards.swap)["face"]
        ),
        facesets_b=lambda wildcards: identity_facesets(
            swap_by_name(wildcards.swap)["target"]
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
    log:
        "logs/evaluate/{swap}/{video}.log",
    benchmark:
        "benchmarks/out/evaluate/{swap}/{video}.tsv"
    conda:
        "../envs/swapflow.yaml"
    params:
        cfg=config["evaluate"],
    script:
        "../scripts/evaluate.py"


rule summary:
    input:
        [f"results/evaluate/{name}.json" for name in swap_video_names()],
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
    conda:
        "../envs/swapflow.yaml"
    params:
        names=swap_video_names(),
    script:
        "../scripts/summary.py"


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
    conda:
        "../envs/swapflow.yaml"
    params:
        config=config,
    script:
        "../scripts/config_used.py"

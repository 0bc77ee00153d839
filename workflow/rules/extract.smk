rule detect:
    input:
        frames="results/frames/{video}",
    output:
        "results/detect/{video}/{shard}.parquet",
    log:
        "logs/detect/{video}/{shard}.log",
    benchmark:
        "benchmarks/out/detect/{video}/{shard}.tsv"
    conda:
        "../envs/swapflow.yaml"
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=detect_settings,
        shard_size=config["extract"]["shard_size"],
    script:
        "../scripts/detect.py"


rule reference:
    input:
        reference_stills,
    output:
        "results/reference/{identity}.json",
    log:
        "logs/reference/{identity}.log",
    benchmark:
        "benchmarks/out/reference/{identity}.tsv"
    conda:
        "../envs/swapflow.yaml"
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=reference_settings,
    script:
        "../scripts/reference.py"


rule align:
    input:
        shards=detect_shards,
        probe="results/probe/{video}.json",
        references=video_references,
    output:
        "results/align/{video}.parquet",
    log:
        "logs/align/{video}.log",
    benchmark:
        "benchmarks/out/align/{video}.tsv"
    conda:
        "../envs/swapflow.yaml"
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=align_settings,
    script:
        "../scripts/align.py"


rule mask:
    input:
        frames="results/frames/{video}",
        alignments="results/align/{video}.parquet",
    output:
        "results/mask/{video}.npz",
    log:
        "logs/mask/{video}.log",
    benchmark:
        "benchmarks/out/mask/{video}.tsv"
    conda:
        "../envs/swapflow.yaml"
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=mask_settings,
    script:
        "../scripts/mask.py"


rule faceset:
    input:
        frames="results/frames/{video}",
        alignments="results/align/{video}.parquet",
        masks="results/mask/{video}.npz",
    output:
        directory("results/faceset/{video}"),
        sheet=report(
            "results/faceset/{video}.jpg",
            caption="../report/contact_sheet.rst",
            category="Extraction",
            labels={"video": "{video}"},
        ),
    log:
        "logs/faceset/{video}.log",
    benchmark:
        "benchmarks/out/faceset/{video}.tsv"
    conda:
        "../envs/swapflow.yaml"
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=faceset_settings,
    script:
        "../scripts/faceset.py"

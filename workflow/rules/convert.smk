rule convert:
    input:
        model=swap_model,
        frames="results/frames/{video}",
        probe="results/probe/{video}.json",
        alignments="results/align/{video}.parquet",
        hands=convert_hands,
    output:
        # kept only until merge has encoded them
        frames=temp(directory("results/convert/{swap}/{video}/{shard}")),
        patches=directory("results/patches/{swap}/{video}/{shard}"),
        outlines="results/outlines/{swap}/{video}/{shard}.parquet",
    log:
        "logs/convert/{swap}/{video}/{shard}.log",
    benchmark:
        "benchmarks/out/convert/{swap}/{video}/{shard}.tsv"
    conda:
        ENV
    threads: 2
    resources:
        **STEP,
    params:
        cfg=lambda wildcards: PLAN.convert_settings(wildcards.swap),
        identities=lambda wildcards: PLAN.swap_identities(wildcards.swap),
        frames=PLAN.frame_quality(),
        shard_size=convert_shard_size,
    script:
        "../scripts/convert.py"

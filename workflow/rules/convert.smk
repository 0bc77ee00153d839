rule convert:
    input:
        model=swap_model,
        frames="results/frames/{video}",
        probe="results/probe/{video}.json",
        alignments="results/align/{video}.parquet",
    output:
        directory("results/convert/{swap}/{video}"),
    log:
        "logs/convert/{swap}/{video}.log",
    benchmark:
        "benchmarks/out/convert/{swap}/{video}.tsv"
    conda:
        "../envs/swapflow.yaml"
    threads: 2
    resources:
        runtime=runtime(60),
        mem_mb=4000,
    params:
        cfg=lambda wildcards: swap_convert(wildcards.swap),
        identities=swap_identities,
        frames=frame_quality(),
    script:
        "../scripts/convert.py"

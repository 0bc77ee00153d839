rule convert:
    input:
        model="results/model/{swap}",
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
    params:
        cfg=convert_settings,
        identities=lambda wildcards: (
            swap_by_name(wildcards.swap)["face"],
            swap_by_name(wildcards.swap)["target"],
        ),
        png_compression=config["frames"]["png_compression"],
    script:
        "../scripts/convert.py"

# only the demo files that are missing: a file that is there is never fetched again
# (it may be the user's own), whatever its time stamp
if MISSING_DEMO:

    rule demo_data:
        output:
            MISSING_DEMO,
        log:
            "logs/demo_data.log",
        benchmark:
            "benchmarks/out/demo_data.tsv"
        # a download: runs where snakemake runs, never on a compute node (often offline)
        localrule: True
        conda:
            ENV
        script:
            "../scripts/demo_data.py"


checkpoint split_frames:
    input:
        video_path,
    output:
        frames=directory("results/frames/{video}"),
        probe="results/probe/{video}.json",
    log:
        "logs/split_frames/{video}.log",
    benchmark:
        "benchmarks/out/split_frames/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=lambda wildcards: PLAN.frames_settings(wildcards.video),
    script:
        "../scripts/split_frames.py"


rule merge:
    input:
        frames=merge_frames,
        probe="results/probe/{video}.json",
    output:
        "results/swap/{swap}/{video}.mp4",
    log:
        "logs/merge/{swap}/{video}.log",
    benchmark:
        "benchmarks/out/merge/{swap}/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=lambda wildcards: settings(MergeConfig, wildcards.swap),
    script:
        "../scripts/merge.py"

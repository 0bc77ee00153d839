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
        ENV
    resources:
        **STEP,
    params:
        cfg=lambda wildcards: PLAN.detect_settings(wildcards.video),
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
        ENV
    resources:
        **STEP,
    params:
        cfg=PLAN.reference_settings(),
    script:
        "../scripts/reference.py"


rule align:
    input:
        shards=detect_shards,
        frames="results/frames/{video}",
        probe="results/probe/{video}.json",
        references=video_references,
    output:
        "results/align/{video}.parquet",
    log:
        "logs/align/{video}.log",
    benchmark:
        "benchmarks/out/align/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=settings(AlignConfig),
        lost_faces=lambda wildcards: PLAN.lost_faces(wildcards.video),
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
        ENV
    resources:
        **STEP,
    params:
        cfg=settings(MaskConfig),
    script:
        "../scripts/mask.py"


rule hands:
    input:
        frames="results/frames/{video}",
        alignments="results/align/{video}.parquet",
    output:
        "results/hands/{video}.parquet",
    log:
        "logs/hands/{video}.log",
    benchmark:
        "benchmarks/out/hands/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=PLAN.hand_tracking(),
    script:
        "../scripts/hands.py"


rule faceset:
    input:
        frames="results/frames/{video}",
        alignments="results/align/{video}.parquet",
        masks="results/mask/{video}.npz",
    output:
        faceset=directory("results/faceset/{video}"),
        sheet=report(
            "results/faceset/{video}.jpg",
            caption="../report/contact_sheet.rst",
            category="Extraction",
            labels={"video": "{video}", "figure": "faceset"},
        ),
        removed=report(
            "results/faceset/{video}.removed.jpg",
            caption="../report/removed.rst",
            category="Extraction",
            labels={"video": "{video}", "figure": "removed faces"},
        ),
        counts=report(
            "results/faceset/{video}.curation.tsv",
            caption="../report/curation.rst",
            category="Extraction",
            labels={"video": "{video}", "figure": "curation counts"},
        ),
    log:
        "logs/faceset/{video}.log",
    benchmark:
        "benchmarks/out/faceset/{video}.tsv"
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=sealed(settings(FacesetConfig)),
        curate=sealed(settings(CurateConfig)),
    script:
        "../scripts/faceset.py"


rule coverage:
    input:
        facesets=lambda wildcards: identity_facesets(wildcards.identity),
        alignments="results/align/{video}.parquet",
    output:
        chart=report(
            "results/coverage/{identity}/{video}.png",
            caption="../report/coverage.rst",
            category="Coverage",
            labels={"face": "{identity}", "video": "{video}"},
        ),
        tsv="results/coverage/{identity}/{video}.tsv",
        json="results/coverage/{identity}/{video}.json",
    log:
        "logs/coverage/{identity}/{video}.log",
    benchmark:
        "benchmarks/out/coverage/{identity}/{video}.tsv"
    # a cheap warning before the long jobs: it runs before train when both could
    priority: 100
    conda:
        ENV
    resources:
        **STEP,
    params:
        cfg=sealed(settings(CoverageConfig)),
        mirror=lambda wildcards: PLAN.coverage_mirror(
            wildcards.identity, wildcards.video
        ),
    script:
        "../scripts/coverage.py"


rule curate:
    """What training will see, before training: every training video's curated
    faceset with its sheets, and the pose coverage of every swapped video."""
    input:
        PLAN.curation_outputs(),

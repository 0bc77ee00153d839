rule train:
    input:
        a=model_facesets(0),
        b=model_facesets(1),
        start=model_start,
    output:
        model=report(
            directory("results/model/{model}"),
            patterns=["{name}.jpg", "{name}.png", "{name}.gif"],
            caption="../report/training.rst",
            category="Training",
            labels={"model": "{model}", "figure": "{name}"},
        ),
    log:
        "logs/train/{model}.log",
    benchmark:
        "benchmarks/out/train/{model}.tsv"
    # shorter runs first: a longer one of the same training then goes on from
    # their checkpoint instead of training those iterations again
    priority: lambda wildcards: -schedule_length(MODELS[wildcards.model]["config"])
    conda:
        ENV
    threads: model_resources("threads")
    resources:
        gpu=model_resources("gpus"),
        # each retry (after a time-limit kill, resuming from the checkpoint) gets longer
        runtime=lambda wildcards, attempt: model_resources("runtime")(wildcards)
        * attempt,
        mem_mb=model_resources("mem_mb"),
    params:
        # composed at parse time: editing a preset or an override retrains
        config=sealed(lambda wildcards: MODELS[wildcards.model]["config"]),
        identities=lambda wildcards: MODELS[wildcards.model]["identities"],
        start=model_start_params,
        # outside the declared output: kept when a killed job's output is removed
        checkpoint_dir="results/checkpoints/{model}",
    message:
        "train {wildcards.model}: progress in {log} (and below in a local run), a live preview in "
        "{params.checkpoint_dir}/preview.jpg, the model in {output.model}"
    script:
        "../scripts/train.py"

rule train:
    input:
        a=lambda wildcards: identity_facesets(swap_by_name(wildcards.swap)["face"]),
        b=lambda wildcards: identity_facesets(swap_by_name(wildcards.swap)["target"]),
    output:
        model=report(
            directory("results/model/{swap}"),
            patterns=["{name}.jpg", "{name}.png"],
            caption="../report/training.rst",
            category="Training",
            labels={"swap": "{swap}", "figure": "{name}"},
        ),
    log:
        "logs/train/{swap}.log",
    benchmark:
        "benchmarks/out/train/{swap}.tsv"
    conda:
        "../envs/swapflow.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=config["train"]["gpus"],
        # each retry (after a time-limit kill, resuming from the checkpoint) gets longer
        runtime=lambda wildcards, attempt: config["train"]["runtime"] * attempt,
        mem_mb=config["train"]["mem_mb"],
    params:
        preset=lambda wildcards: train_settings(wildcards)["preset"],
        overrides=lambda wildcards: train_settings(wildcards)["overrides"],
        iterations=lambda wildcards: train_settings(wildcards)["iterations"],
        identities=lambda wildcards: (
            swap_by_name(wildcards.swap)["face"],
            swap_by_name(wildcards.swap)["target"],
        ),
        # outside the declared output: kept when a killed job's output is removed
        checkpoint_dir=lambda wildcards: f"results/checkpoints/{wildcards.swap}",
        config_dir=f"{workflow.basedir}/config",
    script:
        "../scripts/train.py"

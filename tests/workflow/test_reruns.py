"""One test per rerun claim of the README's table: on a finished short swap
project, change one thing and check exactly what ``snakemake -n`` plans."""

from __future__ import annotations

import re
import shutil
import subprocess
from contextlib import contextmanager

import pytest

from swapflow.video.ffmpeg import ffmpeg_exe
from tests.conftest import REPO, planned_jobs, run_snakemake, write_config
from tests.workflow.conftest import swap_config

# every job downstream of the target video's (man's) alignments, for the one swap
# (convert: 2 shards of the man, 4 of the cartoon-then-face clip)
AFTER_TRAIN = {"convert": 6, "merge": 2, "evaluate": 2, "provenance": 2, "summary": 1}


def copy_workflow(dest):
    """workflow/ and config/ of the repository copied into ``dest``."""
    dest.mkdir(parents=True)
    for part in ("workflow", "config"):
        shutil.copytree(REPO / part, dest / part)
    return str(dest / "workflow" / "Snakefile")


@contextmanager
def changed(workdir, config):
    """Run the block with ``config`` in place of the project's, then restore it."""
    write_config(workdir, config)
    try:
        yield
    finally:
        write_config(workdir, swap_config())


def with_sections(**sections):
    config = swap_config()
    for name, values in sections.items():
        config[name] = config.get(name, {}) | values
    return config


def dry_run_error(workdir, *args) -> str:
    res = run_snakemake(workdir, "-n", *args, check=False)
    assert res.returncode != 0, "the dry run should fail"
    return res.stdout + res.stderr


def test_nothing_to_do_after_a_run(swapped):
    assert planned_jobs(swapped) == {}


@pytest.mark.parametrize("lost, shards", [("results/patches/w2m/man/1", 2),
                                          ("results/outlines/w2m/noface/2.parquet", 4)])
def test_a_lost_side_output_of_convert_is_made_again(swapped, tmp_path, lost, shards):
    """A shard's patches or outlines gone (a run cut off after --forcerun convert
    had removed them): convert runs again, and what follows it; for every shard
    of that video, as merge needs all their frames, which it had deleted."""
    aside = tmp_path / "aside"
    shutil.move(swapped / lost, aside)
    try:
        planned = planned_jobs(swapped)
    finally:
        shutil.move(aside, swapped / lost)
    assert planned["convert"] == shards and planned["merge"] == 1
    assert not {"split_frames", "detect", "train"} & set(planned)


def test_moved_project_plans_nothing(swapped, tmp_path):
    """The project folder and the workflow copied elsewhere (times kept): nothing to do."""
    project = tmp_path / "elsewhere"
    shutil.copytree(swapped, project, symlinks=True)
    assert planned_jobs(project, "-s", copy_workflow(tmp_path / "workflow-copy")) == {}


def test_detection_setting_reruns_from_detect(swapped):
    with changed(swapped, with_sections(extract={"threshold": 0.8})):
        assert planned_jobs(swapped) == {
            "detect": 3, "align": 3, "mask": 2, "hands": 2, "faceset": 2, "coverage": 2, "train": 1, "models": 1,
            **AFTER_TRAIN,
            "config_used": 1, "all": 1}


@pytest.mark.parametrize("setting", [{"smoothing_beta": 1.0}, {"crop_fraction": 0.75},
                                     {"keep_all": True}, {"second_detector": "none"},
                                     {"dlib-cnn": {"upsample": 1}}, {"track": {"max_gap": 2}}])
def test_align_setting_reruns_from_align_not_detect(swapped, setting):
    """Also the lost-face settings: on video the second detector runs in align."""
    with changed(swapped, with_sections(extract=setting)):
        assert planned_jobs(swapped) == {
            "align": 3, "mask": 2, "hands": 2, "faceset": 2, "coverage": 2, "train": 1, "models": 1, **AFTER_TRAIN,
            "config_used": 1, "all": 1}


def test_mask_types_rerun_mask_and_after(swapped):
    config = with_sections(mask={"types": ["components", "extended", "mesh"]})
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"mask": 2, "faceset": 2, "coverage": 2, "train": 1, "models": 1, **AFTER_TRAIN,
                                         "config_used": 1, "all": 1}


@pytest.mark.parametrize("setting", [{"blur": 0.3}, {"outlier_distance": 0},
                                     {"duplicate_distance": 0.002}, {"max_per_pose_bin": 20}])
def test_curation_setting_reruns_faceset_and_after_not_before(swapped, setting):
    with changed(swapped, with_sections(curate=setting)):
        assert planned_jobs(swapped) == {"faceset": 2, "coverage": 2, "train": 1, "models": 1, **AFTER_TRAIN,
                                         "config_used": 1, "all": 1}
        # what training would see, without training: `snakemake curate`
        assert planned_jobs(swapped, "curate") == {"faceset": 2, "coverage": 2, "curate": 1}


def test_coverage_setting_reruns_coverage_and_evaluate_only(swapped):
    with changed(swapped, with_sections(pose_coverage={"radius": 15})):
        assert planned_jobs(swapped) == {"coverage": 2, "evaluate": 2, "summary": 1,
                                         "config_used": 1, "all": 1}
        # each reason names the changed settings by digest, not the whole config twice
        res = run_snakemake(swapped, "-n")
        reasons = [line[line.index("Params have changed"):] for line in (res.stdout + res.stderr).splitlines()
                   if "Params have changed" in line]
        assert len(reasons) >= 2 and max(map(len, reasons)) < 200, max(reasons, key=len)


def test_faceset_mask_reruns_faceset_not_mask(swapped):
    with changed(swapped, with_sections(mask={"faceset_mask": "components"})):
        assert planned_jobs(swapped) == {"faceset": 2, "coverage": 2, "train": 1, "models": 1, **AFTER_TRAIN,
                                         "config_used": 1, "all": 1}


def test_unused_format_setting_reruns_nothing_but_the_record(swapped):
    """PNG compression is not read when frames are JPEG; stills_fps only for image folders."""
    config = with_sections(frames={"png_compression": 3, "stills_fps": "30"})
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"config_used": 1, "all": 1}


def test_training_override_trains_a_new_model(swapped):
    config = swap_config()
    config["train"]["overrides"].append("model.lr=1e-4")
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"train": 1, **AFTER_TRAIN, "models": 1,
                                         "config_used": 1, "all": 1}


def test_train_resources_change_nothing_trained(swapped):
    config = with_sections(train={"threads": 1, "gpus": 2, "runtime": 30, "mem_mb": 4000})
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"config_used": 1, "all": 1}


def test_edited_preset_retrains(swapped, tmp_path):
    """Editing a preset of the workflow's config/model/ plans train; restoring it plans nothing."""
    workflow = tmp_path / "workflow-copy"
    snakefile = copy_workflow(workflow)
    assert planned_jobs(swapped, "-s", snakefile) == {}
    preset = workflow / "config/model/lite.yaml"
    preset.write_text(preset.read_text().replace("dense: 128", "dense: 96"))
    assert planned_jobs(swapped, "-s", snakefile) == {"train": 1, **AFTER_TRAIN, "models": 1,
                                                      "all": 1}
    shared = workflow / "config/train.yaml"
    shared.write_text(shared.read_text().replace("flip: true", "flip: false"))
    assert planned_jobs(swapped, "-s", snakefile)["train"] == 1


def test_convert_only_variant_shares_the_model(swapped):
    config = swap_config()
    config["swaps"].append({"name": "w2m_hist", "face": "woman", "target": "man",
                            "videos": ["man"], "convert": {"color": "histogram"},
                            "merge": {"crf": 23}})
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"convert": 2, "merge": 1, "evaluate": 1,
                                         "provenance": 1, "summary": 1, "models": 1,
                                         "config_used": 1, "all": 1}


@pytest.mark.parametrize("setting", [{"color": "histogram"}, {"occlusion": ["hands", "reconstruction"]},
                                     {"occlusion": ["hands", "skin"]}, {"skin": {"threshold": 3.0}},
                                     {"hands": {"dilate": 0.3}}, {"reconstruction": {"threshold": 4.0}}])
def test_convert_setting_reruns_convert_and_after(swapped, setting):
    with changed(swapped, with_sections(convert=setting)):
        assert planned_jobs(swapped) == {**AFTER_TRAIN, "config_used": 1, "all": 1}


def test_hand_setting_reruns_hands_and_convert_not_before(swapped):
    """Hands are tracked in the two target videos (``convert.occlusion: [hands]``, the
    default); a hand setting redoes that and what follows, never the masks, facesets
    or training; cutting nothing out redoes only convert and after."""
    with changed(swapped, with_sections(convert={"hands": {"confidence": 0.7}})):
        assert planned_jobs(swapped) == {"hands": 2, **AFTER_TRAIN, "config_used": 1, "all": 1}
    with changed(swapped, with_sections(convert={"occlusion": []})):
        assert planned_jobs(swapped) == {**AFTER_TRAIN, "config_used": 1, "all": 1}


def test_merge_setting_reruns_convert_and_after(swapped):
    """The converted frames are gone once merged: a new encode converts again."""
    with changed(swapped, with_sections(merge={"crf": 23})):
        assert planned_jobs(swapped) == {**AFTER_TRAIN, "config_used": 1, "all": 1}


def test_evaluate_setting_reruns_evaluate_only(swapped):
    with changed(swapped, with_sections(evaluate={"swap_faces": 10})):
        assert planned_jobs(swapped) == {"evaluate": 2, "summary": 1, "config_used": 1, "all": 1}


def test_new_target_video_needs_no_training(swapped):
    config = swap_config()
    config["videos"]["man2"] = "resources/demo/face_noface.mov"
    config["swaps"][0]["videos"].append("man2")
    with changed(swapped, config):
        # detect's and convert's shards are only known once split_frames (a checkpoint)
        # has run
        assert planned_jobs(swapped) == {"split_frames": 1, "align": 1, "coverage": 1, "merge": 1, "evaluate": 1, "provenance": 1,
                                         "summary": 1, "config_used": 1, "all": 1}


def test_replaced_target_video_reruns_its_chain_only(swapped):
    clip = swapped / "resources/demo/single_face.mp4"
    kept = swapped / "man.orig.mp4"
    shutil.copy2(clip, kept)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(kept), "-c:v",
                    "libx264", "-crf", "30", "-c:a", "copy", str(clip)], check=True)
    try:
        jobs = planned_jobs(swapped)
        dry = run_snakemake(swapped, "-n").stdout
    finally:
        shutil.copy2(kept, clip)
        kept.unlink()
    # the model is named by the clip's content: a new name, the trained model stays
    (trained,) = [p.name for p in (swapped / "results/model").iterdir()]
    planned = re.findall(r"the model in results/model/(\S+)", dry)  # the train job's message
    assert len(planned) == 1 and planned[0] != trained
    # the woman's extraction is not planned; detect's and convert's shards of the man
    # (and with them his hands) are planned again once split_frames (a checkpoint) has
    # rerun: now only the cartoon clip's 4 convert shards
    assert jobs == {"split_frames": 1, "align": 1, "mask": 1, "faceset": 1, "coverage": 1, "train": 1, "models": 1,
                    **AFTER_TRAIN, "convert": 4, "all": 1}
    assert planned_jobs(swapped) == {}, "restoring the clip should leave nothing to do"


@pytest.mark.parametrize("where, change, message", [
    ("train", {"preset": "litee"}, "swaps.w2m.train: unknown preset 'litee'; valid presets: "
                                   "df256, dfaker128, lite, original"),
    ("train", {"overrides": ["batch_sise=8"]}, "override 'batch_sise=8' does not apply: "
                                               "batch_sise is not a key"),
    ("train", {"overrides": ["model.lr=fast"]}, "override 'model.lr=fast' does not apply"),
    ("train", {"overrides": ["data.rotation=-5"]}, "swaps.w2m.train: training setting data.rotation is -5; "
                                                   "it takes a number of at least 0 and at most 180"),
    ("train", {"gpus": 3}, "swaps.w2m.train: batch_size 16 does not split evenly over 3 "
                           "training processes (train.gpus)"),
])
def test_training_config_errors_fail_the_dry_run(swapped, where, change, message):
    with changed(swapped, with_sections(**{where: change})):
        assert message in dry_run_error(swapped)


@pytest.mark.parametrize("section, values, message", [
    ("train", {"iteratons": 5}, "swaps.w2m.train: unknown key 'iteratons' (allowed: preset,"),
    ("train", {"overrides": ["seed=x"]}, "swaps.w2m.train: override 'seed=x' does not apply"),
    ("convert", {"colour": "rct"}, "swaps.w2m.convert: unknown key 'colour'"),
    ("convert", {"color": "sepia"}, "swaps.w2m.convert.color: 'sepia' is not allowed (one of: none,"),
    ("merge", {"crf": "high"}, "swaps.w2m.merge.crf: 'high' is not of type 'integer'"),
])
def test_per_swap_section_errors_fail_the_dry_run(swapped, section, values, message):
    config = swap_config()
    config["swaps"][0][section] = values
    with changed(swapped, config):
        assert message in dry_run_error(swapped)


def test_own_config_replaces_the_demo_inputs(demo_dir, tmp_path):
    """The workflow's default config/config.yaml names the demo; a --configfile that
    names its own videos runs those alone."""
    (tmp_path / "config").mkdir()
    shutil.copy2(REPO / "config/config.yaml", tmp_path / "config/config.yaml")
    own = {"videos": {"clip": str(demo_dir / "single_face.mp4")},
           "identities": {"me": {"videos": ["clip"]}, "you": {"videos": ["clip"]}},
           "swaps": [{"name": "mine", "face": "you", "target": "me"}]}
    write_config(tmp_path, own)
    jobs = planned_jobs(tmp_path)
    assert jobs["split_frames"] == 1 and "demo_data" not in jobs


def test_reference_stills_are_read_once_by_their_own_rule(swapped):
    """Stills given to an identity: one reference job reads them; align reads its
    output (no image), and detection stores embeddings for its videos."""
    config = swap_config()
    config["identities"]["man"]["references"] = ["resources/demo/single_face.jpg"]
    with changed(swapped, config):
        assert planned_jobs(swapped) == {"reference": 1, "detect": 1, "align": 1, "mask": 1, "hands": 1,
                                         "faceset": 1, "coverage": 1, "train": 1, "models": 1, **AFTER_TRAIN,
                                         "config_used": 1, "all": 1}
        plan = run_snakemake(swapped, "-n", "results/align/man.parquet").stdout
    align = plan[plan.index("rule align:"):]
    inputs = align[align.index("input:"):align.index("output:")]
    assert "results/reference/man.json" in inputs and "single_face.jpg" not in inputs

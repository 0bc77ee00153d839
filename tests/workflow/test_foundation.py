"""Real snakemake runs of the video ends: round trip, bad input, incremental reruns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import version

import pytest

from swapflow.video.ffmpeg import ffmpeg_exe
from swapflow.video.merge import SYNTHETIC_COMMENT
from tests.conftest import SNAKEFILE, SNAKEMAKE, load_config, planned_jobs, run_snakemake, write_config
from tests.videos import describe


def passthrough_config(**extra) -> dict:
    """tests/configs/short.yaml with ``extra`` sections."""
    return load_config("short") | extra


PASSTHROUGH = "results/swap/passthrough/man.mp4"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("foundation")
    write_config(workdir, passthrough_config())
    run_snakemake(workdir, PASSTHROUGH)
    return workdir


def test_demo_target_round_trip(finished):
    out = describe(finished / PASSTHROUGH)
    assert out["frames"] == 72 and out["audio"] == "mp3"
    assert out["tags"]["comment"] == SYNTHETIC_COMMENT
    assert (finished / "logs/split_frames/man.log").stat().st_size > 0
    assert (finished / "benchmarks/out/merge/passthrough/man.tsv").exists()


def test_nothing_to_do_when_nothing_changed(finished):
    assert planned_jobs(finished, PASSTHROUGH) == {}


@pytest.mark.parametrize("older", [True, False])
def test_a_replaced_video_is_split_again_whatever_its_mtime(demo_dir, tmp_path, older):
    """A source replaced by other content is split again, also when the copy
    kept an older mtime (cp -p, rsync -a: Snakemake alone saw nothing to do);
    a copy of the same bytes reruns nothing."""
    source = tmp_path / "clip.mp4"
    shutil.copyfile(demo_dir / "single_face.mp4", source)
    config = passthrough_config()
    config["videos"]["man"] = str(source)
    write_config(tmp_path, config)
    run_snakemake(tmp_path, PASSTHROUGH)
    probe = tmp_path / "results/probe/man.json"
    stamp = probe.stat().st_mtime_ns - 10 ** 9 * 3600 if older else None
    shutil.copyfile(demo_dir / "single_face.mp4", source)  # same bytes, new times
    assert planned_jobs(tmp_path, PASSTHROUGH) == {}
    shutil.copyfile(demo_dir / "noface_face.mov", source)  # other content
    if stamp:
        os.utime(source, ns=(stamp, stamp))
    assert planned_jobs(tmp_path, PASSTHROUGH) == {"split_frames": 1, "merge": 1}


def test_merge_setting_reruns_only_merge(finished):
    write_config(finished, passthrough_config() | {"merge": {"crf": 30}})
    try:
        assert planned_jobs(finished, PASSTHROUGH) == {"merge": 1}
    finally:
        write_config(finished, passthrough_config())


def test_frames_setting_reruns_split_and_merge(finished):
    write_config(finished, passthrough_config(frames={"jpeg_quality": 90}))
    try:
        assert planned_jobs(finished, PASSTHROUGH) == {"split_frames": 1, "merge": 1}
    finally:
        write_config(finished, passthrough_config())


def failing_run(workdir):
    res = run_snakemake(workdir, check=False)
    assert res.returncode != 0
    assert not (workdir / "results").exists(), "outputs left behind by a bad config"
    return res.stdout + res.stderr


def test_missing_video_is_named(tmp_path):
    config = passthrough_config()
    config["videos"]["man"] = str(tmp_path / "gone.mp4")
    write_config(tmp_path, config)
    assert f"videos.man: {tmp_path / 'gone.mp4'}: file does not exist" in failing_run(tmp_path)


def test_file_that_is_not_a_video_is_named(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_text("not a video")
    config = passthrough_config()
    config["videos"]["man"] = str(bad)
    write_config(tmp_path, config)
    assert f"videos.man: {bad}: not a video ffmpeg can read" in failing_run(tmp_path)


def test_video_without_video_stream_is_named(tmp_path):
    audio = tmp_path / "sound.m4a"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=duration=1", str(audio)], check=True)
    config = passthrough_config()
    config["videos"]["man"] = str(audio)
    write_config(tmp_path, config)
    assert f"videos.man: {audio}: has no video stream" in failing_run(tmp_path)


def test_schema_violation_names_the_key(tmp_path):
    write_config(tmp_path, passthrough_config(merge={"crf": 99}))
    out = failing_run(tmp_path)
    assert "99 is greater than the maximum of 51" in out and "crf" in out


def test_two_videos_with_one_name(tmp_path, demo_dir):
    path = demo_dir / "single_face.mp4"
    (tmp_path / "config.yaml").write_text(
        f"videos:\n  man: {path}\n  man: {path}\n"
        "identities:\n  man: {videos: [man]}\n  w: {videos: [man]}\n"
        "swaps: [{name: s, face: w, target: man}]\n")
    assert "line 3: 'man' is given twice (first on line 2)" in failing_run(tmp_path)


def test_swap_naming_unknown_identity(tmp_path):
    config = passthrough_config()
    config["swaps"][0]["face"] = "nobody"
    write_config(tmp_path, config)
    assert "swaps.s.face: 'nobody' is not in identities" in failing_run(tmp_path)


def test_killed_split_leaves_no_complete_looking_output(tmp_path, demo_dir):
    """A split interrupted mid-way leaves only a hidden temporary, which a rerun replaces."""
    write_config(tmp_path, passthrough_config())
    proc = subprocess.Popen([sys.executable, "-c",
                             "import sys; from swapflow.video.split import split; "
                             "split(sys.argv[1], sys.argv[2], sys.argv[3])",
                             str(demo_dir / "WolfgangLanger_Pexels.mp4"),
                             str(tmp_path / "frames"), str(tmp_path / "probe.json")],
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (time.monotonic() < deadline and proc.poll() is None
           and not any(len(list(d.iterdir())) >= 20 for d in tmp_path.glob(".frames*"))):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert list(tmp_path.glob(".frames*")), "split never started, or finished first"
    assert not (tmp_path / "frames").exists() and not (tmp_path / "probe.json").exists()


def test_bad_names_fail_before_any_job(tmp_path):
    config = passthrough_config()
    config["videos"] = {"man\n": config["videos"]["man"]}
    config["identities"] = {"man": {"videos": ["man\n"]}, "woman": {"videos": ["man\n"]}}
    write_config(tmp_path, config)
    assert "videos: the name 'man\\n' may hold only letters" in failing_run(tmp_path)
    config = passthrough_config()
    config["swaps"][0]["name"] = "summary.tsv"
    write_config(tmp_path, config)
    assert "swaps: the name 'summary.tsv' ends like a file name" in failing_run(tmp_path)


def test_schema_errors_are_one_line_each(tmp_path):
    config = passthrough_config(merge={"crf": 99, "presett": "fast"},
                                extract={"mediapipe": {"range": "far"}})
    write_config(tmp_path, config)
    out = failing_run(tmp_path)
    assert "merge.crf: 99 is greater than the maximum of 51\n" in out
    assert "merge: unknown key 'presett' (allowed: codec, crf, preset," in out
    assert "extract.mediapipe.range: 'far' is not allowed (one of: auto, short, full)\n" in out
    assert "$schema" not in out and "additionalProperties" not in out and len(out) < 3000


def test_users_demo_file_is_never_fetched_again(tmp_path, demo_dir):
    """A file of resources/demo replaced by the user, older than the rest, stays as it is."""
    own = tmp_path / "resources/demo/single_face.mp4"
    own.parent.mkdir(parents=True)
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(demo_dir / "single_face.mp4"),
                    "-t", "1", "-c:a", "copy", str(own)], check=True)
    os.utime(own, (1_000_000_000, 1_000_000_000))
    data = own.read_bytes()
    config = passthrough_config()
    config["videos"]["man"] = "resources/demo/single_face.mp4"
    write_config(tmp_path, config)
    assert "demo_data" not in planned_jobs(tmp_path, PASSTHROUGH)
    run_snakemake(tmp_path, PASSTHROUGH)
    assert own.read_bytes() == data and own.stat().st_mtime == 1_000_000_000
    assert describe(tmp_path / PASSTHROUGH)["frames"] == 30


def test_odd_project_folder_and_label(tmp_path, demo_dir):
    """Quotes, $, % and spaces in the project folder and file names; a VFR clip; a label
    with quotes and commas: the round trip keeps every frame and draws the label."""
    project = tmp_path / "it's a \"$HOME\" 100% test"
    project.mkdir()
    shutil.copy(demo_dir / "noface_face.mov", project / "l'été, $1.mov")
    config = passthrough_config(merge={"preset": "ultrafast",
                                                 "watermark": "it's AI, really: 100% fake"})
    config["videos"]["man"] = "l'été, $1.mov"
    write_config(project, config)
    run_snakemake(project, PASSTHROUGH)
    assert describe(project / PASSTHROUGH)["frames"] == 169


def test_killed_merge_leftovers_are_removed_by_the_rerun(finished):
    out = finished / PASSTHROUGH
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = out.with_name(f".{out.name}.tmp{dead}")
    left.write_bytes(b"half an mp4")
    out.unlink()
    run_snakemake(finished, PASSTHROUGH)
    assert out.exists() and not left.exists()


def test_apptainer_without_an_image_says_how_to_name_one(tmp_path):
    """No image is published: `--sdm apptainer` needs SWAPFLOW_IMAGE, and says so
    before anything runs (else Snakemake would run every job outside a container)."""
    write_config(tmp_path, passthrough_config())
    env = {k: v for k, v in os.environ.items() if k != "SWAPFLOW_IMAGE"}
    res = subprocess.run([SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(tmp_path), "--configfile",
                          str(tmp_path / "config.yaml"), "-n", "--sdm", "apptainer"],
                         capture_output=True, text=True, env=env)
    assert res.returncode != 0 and not (tmp_path / "results").exists()
    assert f"name with SWAPFLOW_IMAGE, e.g. SWAPFLOW_IMAGE=$PWD/swapflow-{version('swapflow')}.sif" in res.stdout + res.stderr

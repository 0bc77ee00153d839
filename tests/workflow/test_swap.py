"""The whole swap in real snakemake runs: extract, a short training, convert, merge."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from fractions import Fraction

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from swapflow.geometry import transform_points, warp
from swapflow.alignments import kept_faces, read_alignments
from swapflow.faceset import load_faceset
from swapflow.frames import list_frames, read_frame
from swapflow.io import read_json
from swapflow.mask import make_mask
from swapflow.occlusion.hands import hand_mask, hands_by_frame
from swapflow.report import CLIP_HEIGHT, CLIP_SECONDS
from swapflow.video.merge import SYNTHETIC_COMMENT
from swapflow.video.probe import Probe
from swapflow.video.read import VideoFrames
from tests.conftest import REPO, SNAKEFILE, SNAKEMAKE, run_snakemake, write_config
from tests.videos import describe
from tests.workflow.conftest import swap_config


@pytest.mark.parametrize("name", ["man", "noface"])
def test_output_keeps_frames_rate_audio_and_is_tagged(swapped, name):
    probe = Probe.load(swapped / f"results/probe/{name}.json")
    out = describe(swapped / f"results/swap/w2m/{name}.mp4")
    assert out["frames"] == probe.frames
    assert abs(out["duration"] - probe.duration) <= float(1 / Fraction(probe.fps)) + 0.02
    assert out["audio"] is not None
    assert out["tags"]["comment"] == SYNTHETIC_COMMENT


def test_converted_frames_are_deleted_once_merged(swapped):
    """Nothing per swap stays but the video (and the empty patch folders of its shards)."""
    shards = {video: sorted(p.name for p in (swapped / f"results/patches/w2m/{video}").iterdir())
              for video in ("man", "noface")}
    assert shards == {"man": ["0", "1"], "noface": ["0", "1", "2", "3"]}
    assert not [p for p in (swapped / "results/convert").rglob("*") if p.is_file()]


def test_frames_without_faces_are_unchanged(swapped, converted):
    alignments = pd.read_parquet(swapped / "results/align/noface.parquet")
    swapped_frames = set(alignments.loc[alignments["keep"], "frame"])
    originals = list_frames(swapped / "results/frames/noface")
    converted = converted["noface"]
    assert len(converted) == len(originals) == 169
    untouched = [i for i in range(len(originals)) if i not in swapped_frames]
    assert len(untouched) >= 80, "the cartoon part of the clip should have no face"
    for i in untouched:
        assert originals[i].read_bytes() == converted[i].read_bytes(), f"frame {i} changed"


def test_only_the_face_changes(swapped, converted):
    alignments = pd.read_parquet(swapped / "results/align/man.parquet")
    originals = list_frames(swapped / "results/frames/man")
    converted = converted["man"]
    changed_inside = 0
    for row in alignments.itertuples():
        before = cv2.imread(str(originals[row.frame])).astype(int)
        after = cv2.imread(str(converted[row.frame])).astype(int)
        w, h = row.x1 - row.x0, row.y1 - row.y0
        far = np.ones(before.shape[:2], bool)
        far[max(0, int(row.y0 - h)):int(row.y1 + h), max(0, int(row.x0 - w)):int(row.x1 + w)] = False
        # JPEG frames: a swapped frame is encoded again, which moves far pixels by
        # re-encoding noise only (about 60 dB; exact with PNG frames, test_convert.py)
        mse = ((before[far] - after[far]) ** 2).mean()
        assert mse < 255 ** 2 / 10 ** 5.0, f"frame {row.frame}: pixels far from the face changed"
        inside = (slice(int(row.y0), int(row.y1)), slice(int(row.x0), int(row.x1)))
        changed_inside += np.abs(before[inside] - after[inside]).mean() > 2
    assert changed_inside == len(alignments), "some faces were not swapped"


def test_model_folder(swapped):
    (model,) = (swapped / "results/model").iterdir()
    assert model.name.startswith("woman-man-lite-")
    for name in ("model.pt", "config.yaml", "manifest.json", "losses.csv", "preview.jpg", "loss.png"):
        assert (model / name).stat().st_size > 0, name
    assert len(pd.read_csv(model / "losses.csv")) == 20


def test_metrics_and_summary(swapped):
    summary = pd.read_csv(swapped / "results/evaluate/summary.tsv", sep="\t")
    assert sorted(summary["video"]) == ["man", "noface"]
    man = summary.set_index("video").loc["man"]
    assert man["frames_swapped"] == 72 and man["id_retrieval_original"] <= 0.1
    assert (swapped / "results/evaluate/w2m/man.jpg").stat().st_size > 10_000


def test_curation_and_coverage(swapped):
    """Each training video's faceset holds the faces curation left, its counts say
    how many each filter took; coverage lists the man's faces and the summary its share."""
    for name in ("woman", "man"):
        counts = pd.read_csv(swapped / f"results/faceset/{name}.curation.tsv", sep="\t").set_index("filter")
        fs = load_faceset(swapped / f"results/faceset/{name}")
        removed = fs.curation["removed"].value_counts()
        assert counts.loc["aligned faces", "left"] == len(fs.curation)
        assert counts["left"].iloc[-1] == len(fs) == removed.get("", 0)
        for step in ("outlier", "blur", "duplicate", "pose_cap"):
            assert counts.loc[step, "removed"] == removed.get(step, 0), (name, step)
    assert (swapped / "results/faceset/woman.removed.jpg").stat().st_size > 10_000
    faces = pd.read_csv(swapped / "results/coverage/woman/man.tsv", sep="\t")
    figures = read_json(swapped / "results/coverage/woman/man.json")
    assert len(faces) == figures["target_faces"] == 72
    assert figures["source_faces"] == len(load_faceset(swapped / "results/faceset/woman"))
    assert figures["uncovered_frames"] == sorted(faces.loc[~faces["covered"], "frame"])
    summary = pd.read_csv(swapped / "results/evaluate/summary.tsv", sep="\t").set_index("video")
    assert summary.loc["man", "pose_coverage"] == figures["pose_coverage"]
    # the evaluation marks each measured face and splits identity retrieval on it
    measured = pd.read_csv(swapped / "results/evaluate/w2m/man.tsv", sep="\t")
    expected = measured.merge(faces, on=["frame", "face"], suffixes=("", "_coverage"))
    assert len(expected) == len(measured) > 0
    assert (expected["covered"] == expected["covered_coverage"]).all()
    metrics = read_json(swapped / "results/evaluate/w2m/man.json")
    assert metrics["id_faces_uncovered"] == (~measured["covered"]).sum()
    assert read_frame(swapped / "results/coverage/woman/man.png").shape[:2] == (450, 1000)


def test_report(swapped):
    run_snakemake(swapped, "--report", str(swapped / "report.html"))
    html = (swapped / "report.html").read_text()
    for shown in ("summary.tsv", "config.yaml", "preview.jpg", "loss.png", "man.jpg",
                  "woman.jpg", "Before | after", "models.tsv", "Provenance", "man.html",
                  "woman.removed.jpg", "woman.curation.tsv", "Pose coverage"):
        assert shown in html, f"{shown} missing from the report"


def test_report_after_a_run_of_another_config_says_which_to_pass(swapped):
    """`snakemake --report` reports on what the config it is given plans: given the
    demo's config after a run of another (the user left out --configfile), it
    says to pass the run's config; with it (test_report) the report builds."""
    res = subprocess.run([SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(swapped), "--cores", "1",
                          "--configfile", str(REPO / "config/config.yaml"), "--report", "other.html"],
                         capture_output=True, text=True)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and not (swapped / "other.html").exists()
    assert "results/config.yaml records a run of another config (it differs in: " in out
    assert "--configfile <the run's file>" in out


def test_the_terminal_shows_training_and_cheap_checks_first(swapped):
    """What a local run prints: the train job names its log and live preview,
    training's progress lines (iteration, losses, speed, ETA) come through, and
    coverage, a cheap warning, ran before the training."""
    out = (swapped / "terminal.txt").read_text()
    (model,) = (p.name for p in (swapped / "results/model").iterdir())
    started = out.index(f"train {model}: progress in logs/train/{model}.log (and below in a local run), a live preview in "
                        f"results/checkpoints/{model}/preview.jpg")
    lines = re.findall(rf"^train/{model}: it (\d+)/20  loss_a [\d.]+  loss_b [\d.]+  [\d.]+ samples/s  ETA \S+$",
                       out, re.M)
    assert lines and lines[-1] == "20"
    assert re.search(rf"^train/{model}: done: 20 iterations in ", out, re.M)
    log = (swapped / f"logs/train/{model}.log").read_text()
    assert all(f"it {n}/20" in log for n in lines)  # the same lines, in the log
    assert out.index("output: results/coverage/woman/man.png") < started


def test_jobs_keep_to_their_threads_and_sleep_while_they_wait(swapped):
    """Training and convert run as many torch threads as their rule's threads
    (2 here, of --cores 2), and their OpenMP threads sleep at once when they
    wait (swapflow's OMP_WAIT_POLICY), which keeps them fast beside other work."""
    (model,) = (p.name for p in (swapped / "results/model").iterdir())
    assert "2 torch threads (OMP_WAIT_POLICY PASSIVE)" in (swapped / f"logs/train/{model}.log").read_text()
    logs = sorted((swapped / "logs/convert/w2m").glob("*/*.log"))
    assert logs and all("2 torch and OpenCV threads (OMP_WAIT_POLICY PASSIVE)" in p.read_text() for p in logs)


# Each part runs script if a page writes it raw: the first closes a <script>
# block, the second runs at parse, the third when its image fails to load.
HOSTILE = ("</script><script>document.documentElement.setAttribute('data-ran','script')</script>"
           "<img src=x onerror=\"document.documentElement.setAttribute('data-ran','img')\">")


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("SWAPFLOW_REQUIRE_BROWSER"):
            pytest.fail("SWAPFLOW_REQUIRE_BROWSER is set but there is no chromium")
        pytest.skip("no chromium (Debian package chromium): the report is not opened in a browser")
    return exe


def test_report_with_hostile_strings_runs_no_script(swapped, tmp_path):
    """A watermark and a training setting holding HTML reach the report's rules
    (config record, provenance, summary, training): Snakemake writes params
    unescaped into the page, so the rules pass them sealed. Opened in headless
    Chromium, the report runs none of it and renders its menu."""
    work = tmp_path / "project"
    shutil.copytree(swapped, work, symlinks=True)
    config = swap_config()
    config["merge"]["watermark"] = HOSTILE
    config["train"]["overrides"] = [*config["train"]["overrides"], f"+note={json.dumps(HOSTILE)}"]
    write_config(work, config)
    run_snakemake(work)
    assert read_json(work / "results/provenance/w2m/man.json")["merge"]["watermark"] == HOSTILE
    run_snakemake(work, "--report", str(work / "report.html"))
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=10000", "--dump-dom", (work / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-ran=' not in dom, "the report ran script from the config"
    rendered = dom.split("<body", 1)[-1]
    for shown in ("Metrics", "Training", "Provenance", "Configuration"):
        assert shown in rendered, f"{shown} missing from the rendered report"


def test_report_plays_a_clip_of_the_output(swapped, tmp_path):
    page = (swapped / "results/evaluate/w2m/noface.html").read_text()
    data = re.search(r'<video controls[^>]* src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', page)
    assert data, page[:300]
    (tmp_path / "clip.mp4").write_bytes(base64.b64decode(data.group(1)))
    clip = describe(tmp_path / "clip.mp4")
    probe = Probe.load(swapped / "results/probe/noface.json")
    assert clip["height"] == min(probe.height, CLIP_HEIGHT) and clip["audio"] == "aac"
    assert 5 < clip["duration"] <= CLIP_SECONDS + 0.1


def test_summary_carries_the_settings_of_each_swap(swapped):
    summary = pd.read_csv(swapped / "results/evaluate/summary.tsv", sep="\t").set_index("video")
    (model,) = (p.name for p in (swapped / "results/model").iterdir())
    man = summary.loc["man"]
    assert man["model"] == model and man["preset"] == "lite" and man["iterations"] == 20
    assert man["overrides"] == "preview_every=10"
    assert man["convert.color"] == "rct" and man["merge.preset"] == "ultrafast"
    assert man["convert.occlusion"] == "[hands, reconstruction, skin]"  # a list setting, as the config writes it
    models = pd.read_csv(swapped / "results/models.tsv", sep="\t", keep_default_na=False)
    assert models.to_dict("records") == [{"model": model, "face": "woman", "target": "man",
                                          "preset": "lite", "iterations": 20, "start": "", "swaps": "w2m"}]


def test_every_output_has_a_provenance_record(swapped):
    record = read_json(swapped / "results/provenance/w2m/man.json")
    assert record["output"] == "man.mp4" and record["swap"] == "w2m"
    assert record["model"] == next((swapped / "results/model").iterdir()).name
    assert record["training"]["seed"] == 0 and record["training"]["device"] == "cpu"
    assert record["training_config"]["iterations"] == 20
    assert record["training_config"]["model"]["size"] == 64
    assert record["convert"]["color"] == "rct" and record["extract"]["detector"] == "mediapipe"
    assert record["source"] == {"file": "single_face.mp4", "frames": 72, "size": [640, 360],
                                "fps": "30/1", "codec": "h264", "frames_lost": 0,
                                "decode_errors": 0, "first_decode_error": None}
    for package in ("torch", "mediapipe", "dlib-bin", "opencv-contrib-python", "snakemake"):
        assert record["versions"][package], package
    assert record["ffmpeg"].startswith("ffmpeg version")
    assert record["git_commit"] is None or len(record["git_commit"]) == 40


def test_config_record_has_no_yaml_anchors(swapped):
    text = (swapped / "results/config.yaml").read_text()
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text)["swaps"][0]["name"] == "w2m"


def test_two_gpus_train_as_two_processes(swapped, tmp_path):
    """``train.gpus: 2`` on this GPU-less machine: the train job runs two gloo
    processes under torchrun. The same 12 iterations trained as one process
    and as two (the same model: gpus names no new one) give the same loss log."""
    original = (swapped / "config.yaml").read_text()
    trained = set((swapped / "results/model").iterdir())
    losses = {}
    for gpus in (1, 2):
        config = yaml.safe_load(original)
        config["train"] |= {"gpus": gpus, "iterations": 12}
        (swapped / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        try:
            planned = run_snakemake(swapped, "-n", "--quiet", "all").stdout
            (name,) = set(re.findall(r"results/model/([\w.-]+)", planned)) - {p.name for p in trained}
            run_snakemake(swapped, f"results/model/{name}")
        finally:
            (swapped / "config.yaml").write_text(original)
        model = swapped / "results/model" / name
        try:
            losses[gpus] = pd.read_csv(model / "losses.csv")
            manifest, log = read_json(model / "manifest.json"), (swapped / "logs/train" / f"{name}.log").read_text()
        finally:  # the other tests expect the project's one model
            shutil.rmtree(model)
            shutil.rmtree(swapped / "results/checkpoints" / name)
    for rank, faces in ((0, "0..7"), (1, "8..15")):
        assert f"process {rank} of 2: faces {faces} of each batch of 16" in log, log[-3000:]
        assert f"[process {rank} of 2] weights identical in all 2 processes at iteration 12" in log
    assert manifest["processes"] == 2
    a, b = losses[1], losses[2]
    assert list(a["iteration"]) == list(b["iteration"]) == list(range(1, 13))
    for side in "ab":
        rel = ((a[f"loss_{side}"] - b[f"loss_{side}"]).abs() / a[f"loss_{side}"]).max()
        assert rel < 0.02, (side, rel)


def test_swap_onto_the_woman_keeps_her_hands(swapped):
    """A swap onto the woman's clip with ``convert.occlusion: [hands]``: her hands are
    tracked (rule hands), and where they cross her face the merged video shows them
    as they were while the rest of her face is swapped; the strip draws the mask edge."""
    original = (swapped / "config.yaml").read_text()
    config = yaml.safe_load(original)
    config["swaps"].append({"name": "m2w", "face": "man", "target": "woman", "videos": ["woman"],
                            "convert": {"occlusion": ["hands"], "shard_size": 250}})
    (swapped / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        run_snakemake(swapped, "results/evaluate/m2w/woman.json")
        hands = pd.read_parquet(swapped / "results/hands/woman.parquet")
        found = set(hands["frame"])
        assert len(found & set(range(64, 225))) > 0.9 * 161 and not found & set(range(50)), sorted(found)
        outlines = pd.concat([pd.read_parquet(swapped / f"results/outlines/m2w/woman/{s}.parquet")
                              for s in (0, 1)])
        assert outlines["outline"].map(len).gt(0).all()  # each swapped face has its mask's edge
        faces = kept_faces(read_alignments(swapped / "results/align/woman.parquet"))
        frames = list_frames(swapped / "results/frames/woman")
        hand_diff, face_diff = [], []
        with VideoFrames(swapped / "results/swap/m2w/woman.mp4") as output:
            for row in faces[faces["frame"].isin(sorted(found)[::20])].itertuples():
                matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
                points = transform_points(np.asarray(row.landmarks).reshape(-1, 2), matrix)
                face = make_mask("extended")(points, 256) > 0
                at = hands_by_frame(hands)[row.frame]
                hand = (hand_mask(at, matrix, 256, 0.0) > 0) & face
                rest = face & ~(hand_mask(at, matrix, 256, 0.6) > 0)
                before = warp(read_frame(frames[row.frame]), matrix, 256).astype(int)
                after = warp(output[row.frame], matrix, 256).astype(int)
                diff = np.abs(after - before).mean(-1)
                hand_diff.append(diff[hand].mean())
                face_diff.append(diff[rest].mean())
        assert np.mean(hand_diff) < 4 and np.mean(face_diff) > 3 * np.mean(hand_diff), (hand_diff, face_diff)
        strip = cv2.imread(str(swapped / "results/evaluate/m2w/woman.jpg"))
        green = (strip[..., 1] > 150) & (strip[..., 1] > strip[..., 2].astype(int) + 80)
        assert green.sum() > 500, "the strip shows the final mask's edge"
    finally:  # the other tests expect the project's one swap and model
        (swapped / "config.yaml").write_text(original)
        for model in (swapped / "results/model").glob("man-woman-*"):
            shutil.rmtree(model)
            shutil.rmtree(swapped / "results/checkpoints" / model.name)


def test_a_swap_starts_from_another_swaps_model(swapped):
    """The man onto the woman, started from w2m's model (``train.start_from: w2m``,
    its encoder frozen for 2 of 4 iterations): only the new model trains, from w2m's
    weights with the decoders' roles swapped, and its manifest, log and the models
    table say so. A longer w2m renames both models; another architecture stops
    the dry run in one line naming both."""
    original = (swapped / "config.yaml").read_text()
    (source,) = (p.name for p in (swapped / "results/model").iterdir())
    config = yaml.safe_load(original)
    start = {"name": "m2w_start", "face": "man", "target": "woman", "videos": ["woman"],
             "train": {"start_from": "w2m", "iterations": 4, "freeze_encoder": 2}}
    config["swaps"].append(start)
    write_config(swapped, config)
    try:
        planned = run_snakemake(swapped, "-n", "--quiet", "all").stdout
        (name,) = set(re.findall(r"results/model/([\w.-]+)", planned)) - {source}
        run_snakemake(swapped, f"results/model/{name}", "results/models.tsv")
        manifest = read_json(swapped / "results/model" / name / "manifest.json")
        models = pd.read_csv(swapped / "results/models.tsv", sep="\t").set_index("model")
        log = (swapped / "logs/train" / f"{name}.log").read_text()
        config["swaps"][0]["train"] = {"iterations": 21}
        write_config(swapped, config)
        renamed = set(re.findall(r"results/model/([\w.-]+)", run_snakemake(swapped, "-n", "--quiet", "all").stdout))
        start["train"]["preset"] = "dfaker128"
        write_config(swapped, config)
        refused = run_snakemake(swapped, "-n", check=False)
    finally:
        (swapped / "config.yaml").write_text(original)
        for folder in ("model", "checkpoints"):
            shutil.rmtree(swapped / "results" / folder / name, ignore_errors=True)
        run_snakemake(swapped, "results/models.tsv")  # the table of the project's one model again
    assert manifest["identities"] == {"a": "man", "b": "woman"} and manifest["iterations"] == 4
    assert manifest["started_from"] | {"weights_sha256": None} == {
        "model": f"results/model/{source}", "weights_sha256": None, "decoders": {"a": "b", "b": "a"},
        "freeze_encoder": 2}
    assert f"starting from results/model/{source}: its encoder (frozen for 2 iterations), its decoder b as " \
           "decoder a (man), its decoder a as decoder b (woman)" in log
    assert models.loc[name, "start"] == source and pd.isna(models.loc[source, "start"])
    assert len(renamed - {source, name}) == 2, renamed
    assert refused.returncode != 0
    # the source is w2m's 21-iteration model by then, another name than ``source``
    assert re.search(r"swaps\.m2w_start\.train\.start_from: model woman-man-lite-\w+ \(original, 64 px\) has another "
                     r"architecture than this swap's man-woman-dfaker128 model \(dfaker, 128 px\)",
                     refused.stdout + refused.stderr)

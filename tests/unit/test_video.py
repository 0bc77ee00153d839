"""Split and merge with the real ffmpeg on the real demo clips."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from swapflow import video
from swapflow.video import VideoError


def ffmpeg(*args: str) -> None:
    subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def round_trip(src: Path, tmp_path: Path, **merge_args) -> tuple[video.Probe, dict]:
    probe = video.split(src, tmp_path / "frames", tmp_path / "probe.json")
    video.merge([tmp_path / "frames"], probe, tmp_path / "out.mp4",
                {"preset": "ultrafast", **merge_args})
    return probe, video.describe(tmp_path / "out.mp4")


@pytest.mark.parametrize("name", ["single_face.mp4", "WolfgangLanger_Pexels.mp4"])
def test_round_trip_keeps_frames_timing_size_audio(demo_dir, tmp_path, name):
    probe, out = round_trip(demo_dir / name, tmp_path)
    source = video.describe(demo_dir / name)
    assert probe.frames == source["frames"] == out["frames"]
    assert (probe.width, probe.height) == (out["width"], out["height"]) == (640, 360)
    assert abs(out["duration"] - source["duration"]) <= float(1 / Fraction(probe.fps))
    assert out["audio"] == source["audio"] and out["audio"] is not None
    assert out["tags"]["comment"] == video.SYNTHETIC_COMMENT
    assert not probe.vfr
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == probe.frames
    assert Path(tmp_path / "probe.json").exists()


def test_png_frames_are_lossless(demo_dir, tmp_path):
    probe = video.split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json",
                        {"format": "png"})
    ffmpeg("-i", str(demo_dir / "single_face.mp4"), "-frames:v", "1", "-pix_fmt", "rgb24",
           str(tmp_path / "ref.png"))
    first = cv2.imread(str(tmp_path / "f" / "000000.png"))
    assert probe.frame_format == "png"
    assert np.array_equal(first, cv2.imread(str(tmp_path / "ref.png")))


def test_variable_frame_rate_keeps_every_frame_and_its_time(demo_dir, tmp_path):
    probe, out = round_trip(demo_dir / "noface_face.mov", tmp_path)
    assert probe.vfr
    assert out["frames"] == probe.frames == 169
    assert np.allclose(out["timestamps"], probe.timestamps, atol=0.002)
    assert out["audio"] == "aac"


def test_rotated_video_comes_out_upright(demo_dir, tmp_path):
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(demo_dir / "single_face.mp4"),
           "-c", "copy", str(rotated))
    probe, out = round_trip(rotated, tmp_path)
    assert probe.rotation in (90, 270)
    assert (probe.width, probe.height) == (360, 640)
    assert (out["width"], out["height"]) == (360, 640) and out["rotation"] == 0
    assert out["frames"] == 72


def test_odd_sized_video_keeps_its_size(demo_dir, tmp_path):
    odd = tmp_path / "odd.mp4"
    ffmpeg("-i", str(demo_dir / "single_face.mp4"), "-vf", "format=yuv444p,crop=321:181", "-c:v",
           "libx264", "-pix_fmt", "yuv444p", "-c:a", "copy", str(odd))
    probe, out = round_trip(odd, tmp_path)
    assert (probe.width, probe.height) == (out["width"], out["height"]) == (321, 181)
    assert out["frames"] == probe.frames == 72


def test_folder_of_stills_is_a_video(demo_dir, tmp_path):
    stills = tmp_path / "stills"
    stills.mkdir()
    ffmpeg("-i", str(demo_dir / "single_face.mp4"), "-frames:v", "5",
           str(stills / "img%02d.jpg"))
    probe, out = round_trip(stills, tmp_path)
    assert probe.frames == out["frames"] == 5 and probe.audio is None and out["audio"] is None
    assert probe.fps == "25/1"


def test_watermark_is_drawn(demo_dir, tmp_path):
    probe = video.split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json")
    video.merge([tmp_path / "f"], probe, tmp_path / "plain.mp4", {"preset": "ultrafast", "crf": 0})
    video.merge([tmp_path / "f"], probe, tmp_path / "marked.mp4",
                {"preset": "ultrafast", "crf": 0, "watermark": "SYNTHETIC"})
    grab = []
    for name in ("plain", "marked"):
        ffmpeg("-i", str(tmp_path / f"{name}.mp4"), "-frames:v", "1", str(tmp_path / f"{name}.png"))
        grab.append(cv2.imread(str(tmp_path / f"{name}.png")).astype(int))
    diff = np.abs(grab[0] - grab[1]).sum(axis=2) > 30
    rows, cols = np.nonzero(diff)
    assert diff.sum() > 200, "no watermark drawn"
    assert rows.min() > 360 // 2 and cols.min() > 640 // 2, "watermark outside the corner"


def make_bad_inputs(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    audio = tmp_path / "audio.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", str(audio))
    return {"missing": tmp_path / "nope.mp4", "text": text, "audio": audio}


@pytest.mark.parametrize("kind,message", [("missing", "does not exist"),
                                          ("text", "not a video"),
                                          ("audio", "no video stream")])
def test_bad_input_names_file_and_leaves_nothing(tmp_path, kind, message):
    bad = make_bad_inputs(tmp_path)[kind]
    with pytest.raises(VideoError, match=message) as err:
        video.split(bad, tmp_path / "frames", tmp_path / "probe.json")
    assert str(bad) in str(err.value)
    assert not (tmp_path / "frames").exists() and not (tmp_path / "probe.json").exists()
    assert not list(tmp_path.glob(".frames*")), "temporary folder left behind"


def test_merge_refuses_a_frame_count_that_does_not_match(demo_dir, tmp_path):
    probe = video.split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json")
    (tmp_path / "f" / "000071.jpg").unlink()
    with pytest.raises(VideoError, match="71 frames"):
        video.merge([tmp_path / "f"], probe, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()

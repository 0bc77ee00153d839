"""Split and merge with the real ffmpeg on the real demo clips."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
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


def _onset(path: Path, sample_rate: int = 8000) -> float:
    """Seconds from the start of ``path`` (its time 0) to the first loud sample of its audio."""
    pcm = subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
                          "-map", "0:a:0", "-af", "aresample=async=1:first_pts=0", "-ac", "1",
                          "-ar", str(sample_rate), "-f", "s16le", "-"],
                         capture_output=True, check=True).stdout
    samples = np.abs(np.frombuffer(pcm, np.int16))
    return int(np.argmax(samples > 8000)) / sample_rate


def _flash(frames: Path) -> int:
    """Index of the first white frame."""
    return next(i for i, f in enumerate(sorted(frames.iterdir())) if cv2.imread(str(f)).mean() > 128)


@pytest.mark.parametrize("video_offset, audio_offset", [(0.5, 0.0), (0.0, 0.36), (1.2, 0.4)])
def test_audio_keeps_its_place_when_the_streams_start_apart(tmp_path, video_offset, audio_offset):
    """A file whose video starts later (or earlier) than its audio: a beep and a
    white frame at the same moment of the source stay together in the output,
    and a short such clip is not called damaged."""
    src = tmp_path / "apart.mp4"
    # black, then white from 1.0 s of the video's own time; a beep from 1.0 s of the audio's
    ffmpeg("-itsoffset", str(video_offset), "-f", "lavfi", "-i",
           "color=black:size=160x120:rate=25:duration=2,drawbox=t=fill:c=white:enable='gte(t,1)'",
           "-itsoffset", str(audio_offset), "-f", "lavfi", "-i",
           "aevalsrc='if(gte(t,1),0.8*sin(2*PI*440*t),0)':d=2:s=44100",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(src))
    probe, out = round_trip(src, tmp_path)
    assert probe.frames_lost == 0 and probe.frames == 50
    assert abs(probe.video_start - max(video_offset - audio_offset, 0)) < 0.05
    flash = _flash(tmp_path / "frames") / 25
    assert abs(flash - 1.0) < 0.05
    assert abs(_onset(tmp_path / "out.mp4") - flash - (audio_offset - video_offset)) < 0.05


def test_anamorphic_video_keeps_its_pixel_aspect(tmp_path):
    """Pixels twice as wide as high (SAR 2:1) come out as they went in."""
    src = tmp_path / "wide.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1,setsar=2/1",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", str(src))
    probe, _ = round_trip(src, tmp_path)
    assert probe.sar == "2/1" and (probe.width, probe.height) == (160, 120)
    header = subprocess.run([video.ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "out.mp4")],
                            capture_output=True, text=True).stderr
    assert "160x120 [SAR 2:1 DAR 8:3]" in header, header


def test_a_size_change_mid_stream_stops_with_the_frame(tmp_path):
    parts = []
    for i, size in enumerate(["160x120", "200x100"]):
        parts.append(tmp_path / f"{i}.ts")
        ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration=1", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-bsf:v", "h264_mp4toannexb", str(parts[-1]))
    src = tmp_path / "joined.ts"
    src.write_bytes(b"".join(p.read_bytes() for p in parts))
    with pytest.raises(VideoError, match=rf"{src}: the picture changes size at frame 25 \(160x120 -> 200x100\)"):
        video.split(src, tmp_path / "frames", tmp_path / "probe.json")
    assert not (tmp_path / "frames").exists()


def test_a_video_stream_without_frames_says_so(tmp_path):
    """A file that declares a video stream with no frame in it (it was called
    'could not decode it: exit status 0')."""
    src = tmp_path / "empty.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", "-t", "1", "-c:v", "libx264",
           str(tmp_path / "one.mp4"))
    ffmpeg("-i", str(tmp_path / "one.mp4"), "-f", "lavfi", "-i", "sine=duration=1", "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-bsf:v", "noise=drop=1", str(src))  # every video packet dropped
    with pytest.raises(VideoError, match=rf"{src}: its video stream holds no frames"):
        video.split(src, tmp_path / "frames", tmp_path / "probe.json")


def test_merge_refuses_a_source_that_is_not_the_one_split(demo_dir, tmp_path):
    """The source is replaced after its split (an older mtime kept): merge,
    which reads its sound from it, refuses; the workflow's next parse marks its
    probe out of date so the video is split again."""
    src = tmp_path / "clip.mp4"
    shutil.copyfile(demo_dir / "single_face.mp4", src)
    probe = video.split(src, tmp_path / "frames", tmp_path / "probes" / "clip.json")
    assert video.outdate_changed({"clip": src}, tmp_path / "probes") == []
    before = src.stat().st_mtime_ns
    shutil.copyfile(demo_dir / "WolfgangLanger_Pexels.mp4", src)
    os.utime(src, ns=(before, before))
    with pytest.raises(VideoError, match=rf"{src}: not the file that was split \(its content changed since\)"):
        video.merge([tmp_path / "frames"], probe, tmp_path / "out.mp4", {"preset": "ultrafast"})
    assert not (tmp_path / "out.mp4").exists()
    probe_path = tmp_path / "probes" / "clip.json"
    mtime = probe_path.stat().st_mtime_ns
    assert video.outdate_changed({"clip": src}, tmp_path / "probes") == ["clip"]
    assert probe_path.stat().st_mtime_ns == 0
    assert video.outdate_changed({"clip": src}, tmp_path / "probes") == ["clip"]  # twice: still
    assert probe_path.stat().st_mtime_ns == 0
    # the old content back before any split: the probe's mtime is given back
    shutil.copyfile(demo_dir / "single_face.mp4", src)
    assert video.outdate_changed({"clip": src}, tmp_path / "probes") == []
    assert probe_path.stat().st_mtime_ns == mtime


def test_merge_works_beside_its_output_and_clears_what_a_killed_one_left(demo_dir, tmp_path):
    """merge's scratch folder (frame links, watermark file) lies beside the output,
    not in the shared temporary folder; a killed merge's is removed by the next."""
    probe = video.split(demo_dir / "single_face.mp4", tmp_path / "frames", tmp_path / "probe.json")
    out = tmp_path / "swap" / "out.mp4"
    left = out.parent / ".out.mp4.tmp999999999.work"  # a merge whose process is gone
    (left / "frames").mkdir(parents=True)
    shared = set(Path(tempfile.gettempdir()).glob("swapflow-*"))
    video.merge([tmp_path / "frames"], probe, out, {"preset": "ultrafast", "watermark": "x"})
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.mp4"]
    assert set(Path(tempfile.gettempdir()).glob("swapflow-*")) == shared

"""Split and merge with the real ffmpeg on the real demo clips, and their plans
(ffmpeg's arguments, frame counts, timing) without ffmpeg."""

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

from swapflow.settings import MergeConfig
from swapflow.video.ffmpeg import Header, VideoError, ffmpeg_exe
from swapflow.video.merge import DRAWTEXT, SYNTHETIC_COMMENT, concat_list, merge, plan_encode
from swapflow.video.probe import Probe, outdate_changed
from swapflow.video.split import DecodeLog, count_lost, frame_timing, plan_decode, split, stills_timing
from tests.videos import describe


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True)


def round_trip(src: Path, tmp_path: Path, **merge_args) -> tuple[Probe, dict]:
    probe = split(src, tmp_path / "frames", tmp_path / "probe.json")
    merge([tmp_path / "frames"], probe, tmp_path / "out.mp4", cfg={"preset": "ultrafast", **merge_args})
    return probe, describe(tmp_path / "out.mp4")


@pytest.mark.parametrize("name", ["single_face.mp4", "WolfgangLanger_Pexels.mp4"])
def test_round_trip_keeps_frames_timing_size_audio(demo_dir, tmp_path, name):
    probe, out = round_trip(demo_dir / name, tmp_path)
    source = describe(demo_dir / name)
    assert probe.frames == source["frames"] == out["frames"]
    assert (probe.width, probe.height) == (out["width"], out["height"]) == (640, 360)
    assert abs(out["duration"] - source["duration"]) <= float(1 / Fraction(probe.fps))
    assert out["audio"] == source["audio"] and out["audio"] is not None
    assert out["tags"]["comment"] == SYNTHETIC_COMMENT
    assert not probe.vfr
    assert len(list((tmp_path / "frames").glob("*.jpg"))) == probe.frames
    assert Path(tmp_path / "probe.json").exists()


def test_png_frames_are_lossless(demo_dir, tmp_path):
    probe = split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json", cfg={"format": "png"})
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
    probe = split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json")
    merge([tmp_path / "f"], probe, tmp_path / "plain.mp4", cfg={"preset": "ultrafast", "crf": 0})
    merge([tmp_path / "f"], probe, tmp_path / "marked.mp4",
          cfg={"preset": "ultrafast", "crf": 0, "watermark": "SYNTHETIC"})
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
        split(bad, tmp_path / "frames", tmp_path / "probe.json")
    assert str(bad) in str(err.value)
    assert not (tmp_path / "frames").exists() and not (tmp_path / "probe.json").exists()
    assert not list(tmp_path.glob(".frames*")), "temporary folder left behind"


def test_merge_refuses_a_frame_count_that_does_not_match(demo_dir, tmp_path):
    probe = split(demo_dir / "single_face.mp4", tmp_path / "f", tmp_path / "p.json")
    (tmp_path / "f" / "000071.jpg").unlink()
    with pytest.raises(VideoError, match="71 frames"):
        merge([tmp_path / "f"], probe, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def _onset(path: Path, sample_rate: int = 8000) -> float:
    """Seconds from the start of ``path`` (its time 0) to the first loud sample of its audio."""
    pcm = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
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
    header = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "out.mp4")],
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
        split(src, tmp_path / "frames", tmp_path / "probe.json")
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
        split(src, tmp_path / "frames", tmp_path / "probe.json")


def test_merge_refuses_a_source_that_is_not_the_one_split(demo_dir, tmp_path):
    """The source is replaced after its split (an older mtime kept): merge,
    which reads its sound from it, refuses; the workflow's next parse marks its
    probe out of date so the video is split again."""
    src = tmp_path / "clip.mp4"
    shutil.copyfile(demo_dir / "single_face.mp4", src)
    probe = split(src, tmp_path / "frames", tmp_path / "probes" / "clip.json")
    assert outdate_changed({"clip": src}, tmp_path / "probes") == []
    before = src.stat().st_mtime_ns
    shutil.copyfile(demo_dir / "WolfgangLanger_Pexels.mp4", src)
    os.utime(src, ns=(before, before))
    with pytest.raises(VideoError, match=rf"{src}: not the file that was split \(its content changed since\)"):
        merge([tmp_path / "frames"], probe, tmp_path / "out.mp4", cfg={"preset": "ultrafast"})
    assert not (tmp_path / "out.mp4").exists()
    probe_path = tmp_path / "probes" / "clip.json"
    mtime = probe_path.stat().st_mtime_ns
    assert outdate_changed({"clip": src}, tmp_path / "probes") == ["clip"]
    assert probe_path.stat().st_mtime_ns == 0
    assert outdate_changed({"clip": src}, tmp_path / "probes") == ["clip"]  # twice: still
    assert probe_path.stat().st_mtime_ns == 0
    # the old content back before any split: the probe's mtime is given back
    shutil.copyfile(demo_dir / "single_face.mp4", src)
    assert outdate_changed({"clip": src}, tmp_path / "probes") == []
    assert probe_path.stat().st_mtime_ns == mtime


def test_merge_works_beside_its_output_and_clears_what_a_killed_one_left(demo_dir, tmp_path):
    """merge's scratch folder (frame links, watermark file) lies beside the output,
    not in the shared temporary folder; a killed merge's is removed by the next."""
    probe = split(demo_dir / "single_face.mp4", tmp_path / "frames", tmp_path / "probe.json")
    out = tmp_path / "swap" / "out.mp4"
    left = out.parent / ".out.mp4.tmp999999999.work"  # a merge whose process is gone
    (left / "frames").mkdir(parents=True)
    shared = set(Path(tempfile.gettempdir()).glob("swapflow-*"))
    merge([tmp_path / "frames"], probe, out, cfg={"preset": "ultrafast", "watermark": "x"})
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.mp4"]
    assert set(Path(tempfile.gettempdir()).glob("swapflow-*")) == shared


def test_decode_plan_turns_a_rotated_video_upright():
    url = "file:/proc/self/fd/3"
    plan = plan_decode(url, Header(width=640, height=360, rotation=90, duration=2.4, fps_hint=30))
    assert (plan.width, plan.height, plan.frame_bytes) == (360, 640, 360 * 640 * 3)
    assert plan.expected == 72
    assert plan.args[plan.args.index("-i") + 1] == url
    assert plan.args[-5:] == ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    upside_down = plan_decode(url, Header(width=640, height=360, rotation=180))
    assert (upside_down.width, upside_down.height) == (640, 360)
    assert upside_down.expected is None  # the header gave no duration


def test_decode_log_reads_frames_rate_and_errors():
    log = DecodeLog()
    for line in [
        "[Parsed_showinfo_0 @ 0x7f] [info] config in time_base: 1/12800, frame_rate: 25/1",
        "[Parsed_showinfo_0 @ 0x7f] [info] n:   0 pts:    512 pts_time:0.04    duration:    512 "
        "fmt:rgb24 cl:unspecified sar:2/1 s:160x120 i:P iskey:1 type:I",
        "[h264 @ 0x55] [error] Invalid NAL unit size (1811 > 1202).\n",
        "[Parsed_showinfo_0 @ 0x7f] [info] n:   1 pts:   1024 pts_time:0.08    duration:    512 "
        "fmt:rgb24 cl:unspecified sar:2/1 s:160x120 i:P iskey:0 type:P",
        "[error] Error opening input file x.mp4.",
    ]:
        log.take(line)
    assert log.pts == [512, 1024] and log.start == 0.04
    assert log.pictures == [("2/1", "160x120")] * 2
    assert (log.time_base, log.rate) == (Fraction(1, 12800), Fraction(25))
    assert log.errors == ["h264: Invalid NAL unit size (1811 > 1202).", "Error opening input file x.mp4."]


@pytest.mark.parametrize("decoded, packets, readable, lost", [
    (249, 250, 10.0, 0),  # one frame off: an estimate's error
    (240, 250, 10.0, 10),  # damage
    (100, 100, 4.0, 150),  # the file ends at 4 of the header's 10 s: 150 frames cut off
])
def test_frames_lost_counts_damage_beyond_two_frames_and_one_percent(decoded, packets, readable, lost):
    header = Header(duration=10.0, fps_hint=25)
    expected = packets + round((10.0 - readable) * 25)
    assert count_lost(decoded=decoded, packets=packets, readable=readable, header=header) == (expected, lost)
    long = Header(duration=40.0, fps_hint=25)
    assert count_lost(decoded=991, packets=1000, readable=40.0, header=long) == (1000, 0)
    assert count_lost(decoded=989, packets=1000, readable=40.0, header=long) == (1000, 11)
    assert count_lost(decoded=5, packets=0, readable=0.0, header=Header()) == (None, 0)


def test_frame_timing_tells_constant_from_variable_rate():
    cfr = frame_timing([512, 1024, 1537, 2049], Fraction(1, 12800), Fraction(25))
    assert not cfr.vfr and cfr.fps == "25/1"  # steps one tick apart are rounding
    assert cfr.times == [0.0, 0.04, 1025 / 12800, 1537 / 12800] and cfr.duration == 1537 / 12800 + 0.04
    vfr = frame_timing([0, 1000, 1500, 4000], Fraction(1, 1000), Fraction(30))
    assert vfr.vfr and vfr.times == [0.0, 1.0, 1.5, 4.0]
    assert vfr.fps == "3/4" and vfr.duration == pytest.approx(4 + 4 / 3)  # the mean rate
    one = frame_timing([7], Fraction(1, 1000), None)
    assert one.times == [0.0] and one.fps == "25/1" and one.duration == 0.04


def test_stills_are_shown_at_the_configured_rate():
    timing = stills_timing(3, "30000/1001")
    assert timing.fps == "30000/1001" and not timing.vfr
    assert timing.times == [0.0, 1001 / 30000, 2002 / 30000] and timing.duration == 3003 / 30000


def probe_of(**changes) -> Probe:
    return Probe(**{"source": "/videos/clip.mp4", "frames": 3, "width": 640, "height": 360,
                    "fps": "30000/1001", "vfr": False, "timestamps": [0.0, 0.5, 0.6], "duration": 0.75,
                    "rotation": 0, "pix_fmt": "yuv420p", "codec": "h264", "audio": "aac",
                    "frame_format": "jpg"} | changes)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_encode_plan_reads_the_frames_at_the_source_rate(tmp_path, suffix):
    frames = tmp_path / "100%" / "frames"
    args = plan_encode(probe_of(), MergeConfig(), frames_at=frames, suffix=suffix, audio=False,
                       out=tmp_path / "out.mp4")
    start = args.index("-framerate")
    assert args[start:start + 8] == ["-framerate", "30000/1001", "-start_number", "0", "-f", "image2", "-i",
                                     f"{tmp_path.resolve()}/100%%/frames/%06d{suffix}"]
    assert "-map" not in args and "-vf" not in args  # no audio, nothing drawn
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-fps_mode") + 1] == "passthrough"
    assert f"comment={SYNTHETIC_COMMENT}" in args
    assert args[-3:] == ["-f", "mp4", f"file:{(tmp_path / 'out.mp4').resolve()}"]


def test_encode_plan_of_a_variable_rate_video_with_sound(tmp_path):
    listing = tmp_path / "frames.ffconcat"
    pcm = probe_of(vfr=True, audio="pcm_s16le", video_start=0.5)
    args = plan_encode(pcm, MergeConfig(), frames_at=listing, suffix=".jpg", audio=True, out=tmp_path / "o.mp4")
    start = args.index("-f")
    assert args[start:start + 17] == ["-f", "concat", "-safe", "0", "-i", f"file:{listing.resolve()}",
                                      "-ss", "0.500000", "-i", "file:/videos/clip.mp4",
                                      "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-c:v"]
    assert args[args.index("-fps_mode"):][:4] == ["-fps_mode", "vfr", "-enc_time_base:v", "1:90000"]
    aac = plan_encode(probe_of(), MergeConfig(), frames_at=tmp_path, suffix=".jpg", audio=True, out=tmp_path)
    assert "-ss" not in aac and aac[aac.index("-c:a") + 1] == "copy"  # mp4 takes AAC as it is


def test_encode_plan_keeps_odd_sizes_and_pixel_aspect_and_draws_the_watermark(tmp_path):
    odd = probe_of(width=321, height=181, sar="2/1")
    args = plan_encode(odd, MergeConfig(watermark="x", synthetic_tag=False), frames_at=tmp_path,
                       suffix=".jpg", audio=False, out=tmp_path / "o.mp4")
    assert args[args.index("-vf") + 1] == f"setsar=2/1,{DRAWTEXT}"
    assert args[args.index("-pix_fmt") + 1] == "yuv444p"
    assert "-metadata" not in args
    chosen = plan_encode(odd, MergeConfig(pix_fmt="yuv422p"), frames_at=tmp_path, suffix=".jpg", audio=False,
                         out=tmp_path / "o.mp4")
    assert chosen[chosen.index("-pix_fmt") + 1] == "yuv422p"


def test_concat_list_gives_each_frame_its_time():
    listing = concat_list([Path("/f/000000.png"), Path("/f/it's/000001.png"), Path("/f/000002.png")], probe_of())
    assert listing.splitlines() == [
        "ffconcat version 1.0",
        "file '/f/000000.png'", "option framerate 90000", "duration 0.500000",
        "file '/f/it'\\''s/000001.png'", "option framerate 90000", "duration 0.100000",
        "file '/f/000002.png'", "option framerate 90000", "duration 0.150000",
    ]

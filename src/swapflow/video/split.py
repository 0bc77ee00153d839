"""Split a video, or a folder of stills, into frame files and a probe.

The decisions are pure functions (``plan_decode``: ffmpeg's arguments and
what its pipe holds; ``check_pictures``: whether the decoded pictures have
that size; ``count_lost``: whether frames are missing;
``frame_timing``/``stills_timing``: times and rate); ``_decode`` runs ffmpeg
and writes the frames it pipes.
"""

from __future__ import annotations

import io
import logging
import re
import subprocess
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Mapping

import numpy as np
from tqdm import tqdm

from swapflow.frames import frame_name, read_image, write_frame
from swapflow.io import InputError, atomic_path
from swapflow.settings import FramesConfig
from swapflow.schema import from_mapping
from swapflow.video.ffmpeg import (HEADER_TIMEOUT_S, LOG_RE, SHOWINFO, SHOWINFO_RE, Header, VideoError,
                                   pipe, read_header, run, source, upright_size)
from swapflow.video.probe import OUTDATED, Probe, content_hash, source_stat

log = logging.getLogger(__name__)

_PICTURE_RE = re.compile(r"sar:(\d+)/(\d+) s:(\d+)x(\d+)")
_TB_RE = re.compile(SHOWINFO + r"config in time_base: (\d+)/(\d+), frame_rate: (\d+)/(\d+)")


def split(video: str | Path, out_dir: str | Path, probe_path: str | Path, *,
          cfg: Mapping[str, Any] | FramesConfig | None = None) -> Probe:
    """Write every frame of ``video`` as an image in ``out_dir`` and a probe JSON.

    Frames are named ``%06d`` from 0, upright (rotation metadata applied),
    one per decoded frame: variable frame rate is kept as it is and the real
    timestamp of each frame goes to the probe, so merge can restore timing.
    A folder of images counts as a video of stills at ``stills_fps``.
    Both outputs appear only when complete.
    """
    video, c = Path(video), from_mapping(FramesConfig, cfg)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        if video.is_dir():
            probe = _split_stills(video, out=tmp, dest=Path(out_dir), c=c)
        else:
            probe = _split_video(video, out=tmp, dest=Path(out_dir), c=c)
        probe.source_stat, probe.source_hash = source_stat(video), content_hash(video)
        probe.save(probe_path)
        Path(probe_path).with_name(Path(probe_path).name + OUTDATED).unlink(missing_ok=True)
    return probe


@dataclass(frozen=True)
class DecodePlan:
    """How ffmpeg decodes a video for the split, and what its pipe then holds."""

    args: list[str]  # ffmpeg's arguments, after the executable
    width: int  # of the upright frames on the pipe, raw RGB
    height: int
    expected: int | None  # frames the header's duration and rate promise (the progress bar's total)

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3


def plan_decode(url: str, header: Header) -> DecodePlan:
    """ffmpeg decodes the video at ``url`` (``source``'s, rotation applied) to raw
    RGB on a pipe and prints each frame's timestamp and size (showinfo)."""
    width, height = upright_size(header)
    # level+info: each line says its level, so decode errors can be told from the rest
    args = ["-hide_banner", "-nostats", "-loglevel", "level+info", "-i", url,
            "-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    return DecodePlan(args, width, height, round(header.duration * header.fps_hint) or None)


def check_pictures(video: Path, plan: DecodePlan, sizes: list[str]) -> None:
    """VideoError unless every decoded picture (``sizes``: "WxH" of each, as showinfo
    saw it) has the size the plan read the pipe by: the header's, upright."""
    if sizes and sizes[0] != f"{plan.width}x{plan.height}":
        raise VideoError(f"{video}: ffmpeg decoded {sizes[0]} pictures where its header said "
                         f"{plan.width}x{plan.height} (upright); the header does not describe "
                         "the stream")
    if changed := next((i for i, size in enumerate(sizes) if size != sizes[0]), None):
        raise VideoError(f"{video}: the picture changes size at frame {changed} ({sizes[0]} -> "
                         f"{sizes[changed]}); swapflow takes one size a video: scale it to one first")


@dataclass
class DecodeLog:
    """What ffmpeg's log says while it decodes (``take`` reads one line)."""

    pts: list[int] = field(default_factory=list)  # of each frame, in time_base units
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (sar, size) of each frame
    start: float | None = None  # seconds from the file's start to the first frame
    time_base: Fraction | None = None
    rate: Fraction | None = None  # the stream's, as the filter graph is told
    errors: list[str] = field(default_factory=list)  # "component: text" of each error line

    def read(self, stream: IO[bytes]) -> None:
        for line in io.TextIOWrapper(stream, errors="replace"):
            self.take(line)

    def take(self, line: str) -> None:
        if m := SHOWINFO_RE.search(line):
            self.pts.append(int(m.group(2)))
            if self.start is None:
                self.start = float(m.group(3))
            if picture := _PICTURE_RE.search(line):
                self.pictures.append((f"{picture[1]}/{picture[2]}", f"{picture[3]}x{picture[4]}"))
        elif m := _TB_RE.search(line):
            self.time_base = Fraction(int(m.group(1)), int(m.group(2)))
            self.rate = Fraction(int(m.group(3)), int(m.group(4)))
        elif m := LOG_RE.match(line.rstrip()):
            self.errors.append(f"{m.group(1)}: {m.group(3)}" if m.group(1) else m.group(5))


def count_lost(*, decoded: int, packets: int, readable: float, header: Header) -> tuple[int | None, int]:
    """(frames the video stream should hold, how many of them were lost: 0 unless damaged).

    Expected: its ``packets``, and where the file ends before the duration its
    header gives (``readable`` seconds: cut short), the frames that time held;
    an estimate (one frame off is common): a loss beyond 2 frames and 1 % is damage.
    """
    expected = packets + round(max(header.duration - readable, 0) * header.fps_hint) or None
    lost = expected - decoded if expected else 0
    return expected, (lost if lost > max(2, expected // 100 if expected else 0) else 0)


@dataclass(frozen=True)
class Timing:
    """When each frame of a split is shown."""

    times: list[float]  # seconds, one per frame, first frame at 0
    rate: Fraction
    vfr: bool
    duration: float

    @property
    def fps(self) -> str:
        return f"{self.rate.numerator}/{self.rate.denominator}"


def frame_timing(pts: list[int], time_base: Fraction, rate: Fraction | None) -> Timing:
    """Times from the decoded frames' ``pts``: variable rate where the steps between
    them differ by more than one tick, and then (or with no ``rate``) the mean rate."""
    first = pts[0]
    times = [float((p - first) * time_base) for p in pts]
    steps = {b - a for a, b in zip(pts, pts[1:])}
    vfr = len(steps) > 1 and max(steps) - min(steps) > 1
    if vfr or not rate:
        rate = Fraction(len(pts) - 1, 1) / Fraction(times[-1]).limit_denominator(1_000_000) \
            if len(pts) > 1 and times[-1] > 0 else Fraction(25)
        rate = rate.limit_denominator(1001)
    return Timing(times, rate, vfr, times[-1] + (float(1 / rate) if rate else 0.0))


def stills_timing(count: int, fps: str) -> Timing:
    """``count`` stills shown at the rational rate ``fps`` (``frames.stills_fps``)."""
    rate = Fraction(fps)
    return Timing([float(i / rate) for i in range(count)], rate, False, float(count / rate))


def _split_video(video: Path, *, out: Path, dest: Path, c: FramesConfig) -> Probe:
    """Decode ``video`` into ``out`` (the temporary of ``dest``, named in errors)."""
    header = read_header(video)
    with source(video) as (url, fds):
        plan = plan_decode(url, header)
        count, code, found = _decode(video, plan, fds, out=out, dest=dest, c=c)
        pts, errors = found.pts[:count], found.errors
        if code != 0 or not pts:
            raise VideoError(f"{video}: ffmpeg could not decode it: "
                             + (errors[-1] if errors else f"exit status {code}"))
        check_pictures(video, plan, [size for _, size in found.pictures[:count]])
        packets, readable = _stream_extent(url, fds, video, header.duration)
    expected, lost = count_lost(decoded=len(pts), packets=packets, readable=readable, header=header)
    if lost:
        damage = (f"{video}: damaged: {len(pts)} of about {expected} frames decoded"
                  + (f"; first decode error: {errors[0]}" if errors else ""))
        if not c.accept_damaged:
            raise VideoError(damage + " (frames.accept_damaged: true splits what decodes)")
        log.warning("%s; %d frames lost, going on (frames.accept_damaged)", damage, lost)
    elif errors:
        log.warning("%s: %d decode errors, all %d frames decoded; first: %s",
                    video, len(errors), len(pts), errors[0])
    timing = frame_timing(pts, found.time_base, found.rate)
    return Probe(source=str(video), frames=len(pts), width=plan.width, height=plan.height,
                 fps=timing.fps, vfr=timing.vfr, timestamps=timing.times, duration=timing.duration,
                 rotation=header.rotation, pix_fmt=header.pix_fmt, codec=header.codec,
                 audio=header.audio, frame_format=c.format, frames_expected=expected,
                 frames_lost=lost, decode_errors=len(errors),
                 first_decode_error=errors[0] if errors else None,
                 sar=found.pictures[0][0] if found.pictures else "1/1",
                 video_start=found.start or 0.0)


def _decode(video: Path, plan: DecodePlan, fds: tuple[int], *, out: Path, dest: Path,
            c: FramesConfig) -> tuple[int, int, DecodeLog]:
    """Run the plan's ffmpeg (``fds``: its ``source``) and write each frame it pipes
    into ``out`` (OpenCV encodes, two at a time); (frames written, ffmpeg's exit
    status, its log)."""
    found = DecodeLog()
    proc = pipe(plan.args, stderr=subprocess.PIPE, pass_fds=fds)
    with ThreadPoolExecutor(1) as logger, ThreadPoolExecutor(2) as writers, \
            tqdm(total=plan.expected, desc=f"split {video.name}", unit="frame",
                 mininterval=2.0) as bar:
        logged = logger.submit(found.read, proc.stderr)
        written, count = deque(), 0
        try:
            while len(data := proc.stdout.read(plan.frame_bytes)) == plan.frame_bytes:
                image = np.frombuffer(data, np.uint8).reshape(plan.height, plan.width, 3)
                written.append(writers.submit(write_frame, out / frame_name(count, c.format),
                                              image, c))
                count += 1
                bar.update(1)
                while len(written) > 4 or (written and written[0].done()):
                    written.popleft().result()  # raises the first failed write
            for job in written:
                job.result()
        except BaseException as err:
            proc.kill()
            proc.wait()
            if isinstance(err, OSError):
                raise VideoError(f"{dest}: could not write the frames of {video}: "
                                 f"{err.strerror or err}") from None
            raise
        code = proc.wait()
        logged.result()
    return count, code, found


def _stream_extent(url: str, fds: tuple[int], video: Path, duration: float) -> tuple[int, float]:
    """(packets of the video stream, seconds of the file that can be read), from
    one pass that reads every stream's packets without decoding them (far faster
    than real time: it may take a tenth of ``duration`` and a minute)."""
    timeout = HEADER_TIMEOUT_S + duration / 10
    try:
        res = run(["-hide_banner", "-nostdin", "-i", url, "-map", "0",
                   "-c", "copy", "-f", "null", "-"], timeout=timeout, pass_fds=fds)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{video}: ffmpeg did not read its packets within {timeout:.0f} s") from None
    last = res.stderr.replace("\r", "\n").rsplit("frame=", 1)[-1]
    frames = re.match(r"\s*(\d+)", last)
    clock = re.search(r"time=(\d+):(\d+):([\d.]+)", last)
    seconds = int(clock[1]) * 3600 + int(clock[2]) * 60 + float(clock[3]) if clock else 0.0
    return (int(frames[1]) if frames else 0), seconds


def _split_stills(folder: Path, *, out: Path, dest: Path, c: FramesConfig) -> Probe:
    """Every still OpenCV reads (by content, whatever the suffix), in name order."""
    import cv2  # imported here: the config check at parse time needs no OpenCV

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [p for p in files if cv2.haveImageReader(str(p))]
    if not images:
        raise VideoError(f"{folder}: folder holds no image that OpenCV reads")
    for skipped in sorted(set(files) - set(images)):
        log.warning("%s: not an image, skipped", skipped)
    size = None
    for i, image_path in enumerate(tqdm(images, desc=f"split {folder.name}", unit="frame")):
        try:
            image = read_image(image_path)
        except InputError as err:
            raise VideoError(str(err)) from None
        if size is None:
            size, first = image.shape[:2], image_path
        elif image.shape[:2] != size:
            raise VideoError(f"{image_path}: size {image.shape[1]}x{image.shape[0]} differs "
                             f"from {size[1]}x{size[0]} of {first.name}; the images of a "
                             "folder must share one size")
        try:
            write_frame(out / frame_name(i, c.format), image, c)
        except OSError as err:
            raise VideoError(f"{dest}: could not write frame {i} ({image_path.name}): "
                             f"{err.strerror}") from None
    timing = stills_timing(len(images), c.stills_fps)
    return Probe(source=str(folder), frames=len(images), width=size[1], height=size[0],
                 fps=timing.fps, vfr=False, timestamps=timing.times, duration=timing.duration,
                 rotation=0, pix_fmt="bgr24", codec="images", audio=None, frame_format=c.format)

"""Video in and out: probe, split into frames, merge frames back with audio.

Only the ``ffmpeg`` binary shipped by imageio-ffmpeg is used (it has no
``ffprobe``), so stream facts are read from ffmpeg's own log: the header it
prints for every input and the ``showinfo`` filter's line per frame.
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import io
import logging
import os
import re
import signal
import subprocess
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import imageio_ffmpeg
import numpy as np
from tqdm import tqdm

from swapflow.frames import frame_index, frame_name, list_frames, name_pattern, read_image, write_frame
from swapflow.io import InputError, atomic_path, read_json, scratch_folder, write_json
from swapflow.settings import FramesConfig, MergeConfig, from_mapping

log = logging.getLogger(__name__)

# Audio codecs that an mp4 container takes as they are.
MP4_AUDIO = {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"}
SYNTHETIC_COMMENT = "synthetic: face swap made with swapflow; not a real recording"


class VideoError(InputError):
    """A video that cannot be used; the message names the file and the problem."""


def content_hash(path: str | Path) -> str:
    """sha256 of a video file's bytes, or of a folder of stills' file names and bytes."""
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    for f in files:
        digest.update(f.name.encode() + b"\0" if path.is_dir() else b"")
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def source_stat(path: str | Path) -> list[int]:
    """Size, mtime, ctime and inode of a source (summed over a folder's files):
    while these stay, its content is taken as unchanged."""
    path = Path(path)
    files = [f for f in path.iterdir() if f.is_file()] if path.is_dir() else [path]
    stats = [f.stat() for f in files]
    return [sum(s.st_size for s in stats), sum(s.st_mtime_ns for s in stats),
            sum(s.st_ctime_ns for s in stats), sum(s.st_ino for s in stats)]


def source_changed(probe: "Probe") -> bool:
    """Whether ``probe``'s source no longer holds what was split: hashed again only
    when its size, times or inode moved (False when the probe records no hash)."""
    return (probe.source_hash is not None and source_stat(probe.source) != probe.source_stat
            and content_hash(probe.source) != probe.source_hash)


def source_digest(path: str | Path, probe_path: str | Path) -> str:
    """The content hash of a source: the one its probe recorded while the source's
    size, times and inode are what the probe saw, else hashed now."""
    if Path(probe_path).exists():
        probe = Probe.load(probe_path)
        if probe.source_hash is not None and source_stat(path) == probe.source_stat:
            return probe.source_hash
    return content_hash(path)


OUTDATED = ".outdated"  # beside a probe: its mtime before outdate_changed set it to 0


def outdate_changed(videos: Mapping[str, str | Path], probe_dir: str | Path) -> list[str]:
    """Make Snakemake split again each video whose content changed since its
    split, whatever its time stamps say (a copy that kept an older mtime): its
    probe, which records the content's hash, gets mtime 0 (the old mtime is
    kept beside it, and given back if the old content returns before the next
    split). Hashes only the sources whose size, times or inode moved. Returns
    the names outdated."""
    changed = []
    for name, path in videos.items():
        probe_path = Path(probe_dir) / f"{name}.json"
        marker = probe_path.with_name(probe_path.name + OUTDATED)
        if not probe_path.exists() or not Path(path).exists():
            continue
        probe = Probe.load(probe_path)
        probe.source = str(path)  # as the config names it now
        if probe.source_hash is None or (source_stat(path) == probe.source_stat and not marker.exists()):
            continue
        if source_changed(probe):
            if not marker.exists():
                marker.write_text(str(probe_path.stat().st_mtime_ns))
                os.utime(probe_path, ns=(0, 0))
            changed.append(name)
        elif marker.exists():  # the split content is back: nothing to redo
            mtime = int(marker.read_text())
            os.utime(probe_path, ns=(mtime, mtime))
            marker.unlink()
    return changed


@dataclass
class Probe:
    """What the split stage learnt about a video; stored as probe JSON."""

    source: str
    frames: int
    width: int
    height: int
    fps: str  # rational, e.g. "24000/1001"
    vfr: bool
    timestamps: list[float]  # seconds, one per frame, first frame at 0
    duration: float
    rotation: int  # degrees the source asked players to rotate; frames are upright
    pix_fmt: str
    codec: str
    audio: str | None  # audio codec, None when there is no audio
    frame_format: str  # "png" or "jpg"
    frames_expected: int | None = None  # from the header's duration and rate
    frames_lost: int = 0  # expected but not decoded (damaged input, frames.accept_damaged)
    decode_errors: int = 0  # error lines of the decoder
    first_decode_error: str | None = None
    sar: str = "1/1"  # sample (pixel) aspect ratio of the frames; merge writes it back
    video_start: float = 0.0  # seconds from the file's start (its earliest stream) to the first frame
    source_hash: str | None = None  # content_hash of the source when it was split
    source_stat: list[int] | None = None  # source_stat of it then (a cheap "unchanged" test)

    @classmethod
    def load(cls, path: str | Path) -> "Probe":
        return cls(**read_json(path))

    def save(self, path: str | Path) -> None:
        write_json(path, asdict(self))


@dataclass
class _Header:
    """Facts read from ffmpeg's description of an input."""

    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    codec: str = ""
    audio: str | None = None
    rotation: int = 0
    duration: float = 0.0
    fps_hint: float = 0.0


def upright_size(header: _Header) -> tuple[int, int]:
    """(width, height) of the frames ffmpeg decodes: turned upright by the rotation tag."""
    if header.rotation in (90, 270):
        return header.height, header.width
    return header.width, header.height


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


_VIDEO_RE = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+)")
_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_ROT_RE = re.compile(r"rotation of (-?[\d.]+) degrees")
_DUR_RE = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_FPS_RE = re.compile(r"([\d.]+) fps")


def _parse_header(path: Path, text: str) -> _Header:
    if re.search(r"could not find codec parameters for stream \d+ \(Video: [^)]*none\(", text, re.I):
        raise VideoError(f"{path}: its video stream holds no frames (ffmpeg found no picture in it)")
    if "Invalid data found" in text or "could not find codec parameters" in text.lower():
        raise VideoError(f"{path}: not a video ffmpeg can read")
    video = _VIDEO_RE.search(text)
    if video is None:
        raise VideoError(f"{path}: has no video stream")
    h = _Header(codec=video.group(1), pix_fmt=video.group(2),
                width=int(video.group(3)), height=int(video.group(4)))
    if audio := _AUDIO_RE.search(text):
        h.audio = audio.group(1)
    if rot := _ROT_RE.search(text):
        h.rotation = int(round(float(rot.group(1)))) % 360
    if dur := _DUR_RE.search(text):
        hh, mm, ss = dur.groups()
        h.duration = int(hh) * 3600 + int(mm) * 60 + float(ss)
    line = text[video.start():text.find("\n", video.start())]
    if fps := _FPS_RE.search(line):
        h.fps_hint = float(fps.group(1))
    return h


HEADER_TIMEOUT_S = 60  # reading a header takes well under a second


def _dies_with_parent() -> None:
    """preexec_fn of every ffmpeg this module starts: SIGKILL when the process
    that started it ends (a killed job leaves no ffmpeg behind; Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def read_header(path: str | Path) -> _Header:
    """Read a video's stream facts without decoding it."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file does not exist")
    if not path.is_file():
        raise VideoError(f"{path}: not a regular file (a FIFO, device or socket is not read)")
    try:
        res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _local(path)],
                             capture_output=True, text=True, errors="replace",
                             timeout=HEADER_TIMEOUT_S, preexec_fn=_dies_with_parent)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path}: ffmpeg did not read its header within {HEADER_TIMEOUT_S} s") from None
    return _parse_header(path, res.stderr)


_SHOWINFO_RE = re.compile(r"n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.]+)")
_PICTURE_RE = re.compile(r"sar:(\d+)/(\d+) s:(\d+)x(\d+)")
_TB_RE = re.compile(r"config in time_base: (\d+)/(\d+), frame_rate: (\d+)/(\d+)")


def split(video: str | Path, out_dir: str | Path, probe_path: str | Path,
          cfg: Mapping[str, Any] | FramesConfig | None = None) -> Probe:
    """Write every frame of ``video`` as an image in ``out_dir`` and a probe JSON.

    Frames are named ``%06d`` from 0, upright (rotation metadata applied),
    one per decoded frame: variable frame rate is kept as it is and the real
    timestamp of each frame goes to the probe, so merge can restore timing.
    A folder of images counts as a video of stills at ``stills_fps``.
    Both outputs appear only when complete.
    """
    video, c = Path(video), from_mapping(FramesConfig, cfg)
    if c.format not in ("png", "jpg"):
        raise ValueError(f"frames.format must be png or jpg, not {c.format!r}")
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        if video.is_dir():
            probe = _split_stills(video, tmp, Path(out_dir), c)
        else:
            probe = _split_video(video, tmp, Path(out_dir), c)
        probe.source_stat, probe.source_hash = source_stat(video), content_hash(video)
        probe.save(probe_path)
        Path(probe_path).with_name(Path(probe_path).name + OUTDATED).unlink(missing_ok=True)
    return probe


# what ffmpeg says when it cannot write (as opposed to decode)
_WRITE_ERRORS = ("No space left on device", "File too large", "Disk quota exceeded",
                 "Read-only file system", "Permission denied", "Could not open file",
                 "Error writing", "Error muxing", "av_interleaved_write_frame")
_LOG_RE = re.compile(r"^\[(\w+)[^\]]*\] \[(error|fatal)\] (.*)$|^\[(error|fatal)\] (.*)$")


def _write_failure(errors: list[str], code: int) -> str | None:
    """Why ffmpeg could not write its output, or None when it failed otherwise."""
    if code == -signal.SIGXFSZ:  # killed at the file-size limit
        return "file size limit exceeded"
    return next((e for e in errors if any(w in e for w in _WRITE_ERRORS)), None)


def _split_video(video: Path, out: Path, dest: Path, c: FramesConfig) -> Probe:
    """Decode ``video`` into ``out`` (the temporary of ``dest``, named in errors).

    ffmpeg decodes (rotation applied) to raw RGB on a pipe and prints each
    frame's timestamp (showinfo); OpenCV encodes the frames, two at a time.
    """
    header = read_header(video)
    width, height = upright_size(header)
    # level+info: each line says its level, so decode errors can be told from the rest
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "level+info",
           "-i", _local(video), "-map", "0:v:0", "-vf", "showinfo", "-fps_mode", "passthrough",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    expected = round(header.duration * header.fps_hint) or None
    pts: list[int] = []
    pictures: list[tuple[str, str]] = []  # (sar, size) of each frame
    starts: list[float] = []
    time_base = rate = None
    errors: list[str] = []

    def read_log() -> None:
        nonlocal time_base, rate
        for line in io.TextIOWrapper(proc.stderr, errors="replace"):
            if m := _SHOWINFO_RE.search(line):
                pts.append(int(m.group(2)))
                if not starts:
                    starts.append(float(m.group(3)))
                if picture := _PICTURE_RE.search(line):
                    pictures.append((f"{picture[1]}/{picture[2]}", f"{picture[3]}x{picture[4]}"))
            elif m := _TB_RE.search(line):
                time_base = Fraction(int(m.group(1)), int(m.group(2)))
                rate = Fraction(int(m.group(3)), int(m.group(4)))
            elif m := _LOG_RE.match(line.rstrip()):
                errors.append(f"{m.group(1)}: {m.group(3)}" if m.group(1) else m.group(5))

    size = width * height * 3
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_dies_with_parent)
    with ThreadPoolExecutor(1) as logger, ThreadPoolExecutor(2) as writers, \
            tqdm(total=expected, desc=f"split {video.name}", unit="frame",
                 mininterval=2.0) as bar:
        logged = logger.submit(read_log)
        written, count = deque(), 0
        try:
            while len(data := proc.stdout.read(size)) == size:
                image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
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
    pts = pts[:count]
    if code != 0 or not pts:
        raise VideoError(f"{video}: ffmpeg could not decode it: "
                         + (errors[-1] if errors else f"exit status {code}"))
    sizes = [size for _, size in pictures[:count]]
    if changed := next((i for i, size in enumerate(sizes) if size != sizes[0]), None):
        raise VideoError(f"{video}: the picture changes size at frame {changed} ({sizes[0]} -> "
                         f"{sizes[changed]}); swapflow takes one size a video: scale it to one first")
    video_start = starts[0] if starts else 0.0
    # frames the video stream should hold: its packets, and where the file ends
    # before the duration its header gives (cut short), the frames that time held;
    # an estimate (one frame off is common): a loss beyond 2 frames and 1 % is damage
    packets, readable = _stream_extent(video, header.duration)
    expected = packets + round(max(header.duration - readable, 0) * header.fps_hint) or None
    lost = expected - len(pts) if expected else 0
    if lost > max(2, expected // 100 if expected else 0):
        damage = (f"{video}: damaged: {len(pts)} of about {expected} frames decoded"
                  + (f"; first decode error: {errors[0]}" if errors else ""))
        if not c.accept_damaged:
            raise VideoError(damage + " (frames.accept_damaged: true splits what decodes)")
        log.warning("%s; %d frames lost, going on (frames.accept_damaged)", damage, lost)
    else:
        lost = 0
        if errors:
            log.warning("%s: %d decode errors, all %d frames decoded; first: %s",
                        video, len(errors), len(pts), errors[0])
    first = pts[0]
    times = [float((p - first) * time_base) for p in pts]
    steps = {b - a for a, b in zip(pts, pts[1:])}
    vfr = len(steps) > 1 and max(steps) - min(steps) > 1
    if vfr or not rate:
        rate = Fraction(len(pts) - 1, 1) / Fraction(times[-1]).limit_denominator(1_000_000) \
            if len(pts) > 1 and times[-1] > 0 else Fraction(25)
        rate = rate.limit_denominator(1001)
    duration = times[-1] + (float(1 / rate) if rate else 0.0)
    return Probe(source=str(video), frames=len(pts), width=width, height=height,
                 fps=f"{rate.numerator}/{rate.denominator}", vfr=vfr, timestamps=times,
                 duration=duration, rotation=header.rotation, pix_fmt=header.pix_fmt,
                 codec=header.codec, audio=header.audio, frame_format=c.format,
                 frames_expected=expected, frames_lost=lost, decode_errors=len(errors),
                 first_decode_error=errors[0] if errors else None,
                 sar=pictures[0][0] if pictures else "1/1", video_start=video_start)


def _stream_extent(video: Path, duration: float) -> tuple[int, float]:
    """(packets of the video stream, seconds of the file that can be read), from
    one pass that reads every stream's packets without decoding them (far faster
    than real time: it may take a tenth of ``duration`` and a minute)."""
    timeout = HEADER_TIMEOUT_S + duration / 10
    try:
        res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _local(video), "-map", "0",
                              "-c", "copy", "-f", "null", "-"], capture_output=True, text=True,
                             errors="replace", preexec_fn=_dies_with_parent, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{video}: ffmpeg did not read its packets within {timeout:.0f} s") from None
    last = res.stderr.replace("\r", "\n").rsplit("frame=", 1)[-1]
    frames = re.match(r"\s*(\d+)", last)
    clock = re.search(r"time=(\d+):(\d+):([\d.]+)", last)
    seconds = int(clock[1]) * 3600 + int(clock[2]) * 60 + float(clock[3]) if clock else 0.0
    return (int(frames[1]) if frames else 0), seconds


def _split_stills(folder: Path, out: Path, dest: Path, c: FramesConfig) -> Probe:
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
    rate = Fraction(c.stills_fps)
    times = [float(i / rate) for i in range(len(images))]
    return Probe(source=str(folder), frames=len(images), width=size[1], height=size[0],
                 fps=f"{rate.numerator}/{rate.denominator}", vfr=False, timestamps=times,
                 duration=float(len(images) / rate), rotation=0, pix_fmt="bgr24",
                 codec="images", audio=None, frame_format=c.format)


def merge(frame_dirs: Sequence[str | Path], probe: Probe, out_path: str | Path,
          cfg: Mapping[str, Any] | MergeConfig | None = None) -> None:
    """Encode the frames of ``frame_dirs`` (a video's frame folder, or the folders
    of its shards) into ``out_path`` with the probe's timing and the source audio.

    Constant-rate sources are encoded at their exact rational rate; variable
    rate sources get each frame's original timestamp back (concat list with
    durations). The source's first audio stream is muxed in (copied when the
    container takes it, else AAC). The file is tagged as synthetic unless
    ``synthetic_tag`` is false; ``watermark`` draws that text on every frame.
    """
    c = from_mapping(MergeConfig, cfg)
    if probe.audio is not None and Path(probe.source).is_file() and source_changed(probe):
        raise VideoError(f"{probe.source}: not the file that was split (its content changed since); "
                         "run the workflow again: it splits it anew")
    frames = sorted((f for folder in frame_dirs for f in list_frames(folder)), key=frame_index)
    if [frame_index(f) for f in frames] != list(range(probe.frames)):
        raise VideoError(f"{', '.join(map(str, frame_dirs))}: {len(frames)} frames, but the "
                         f"probe of {probe.source} says {probe.frames}")
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, scratch_folder(out_path) as work:
        # ffmpeg runs in ``work`` (the watermark file is read from there); every path is absolute
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "level+error", "-y",
               *_frame_input(frames, probe, Path(work) / "frames.ffconcat")]
        if probe.audio is not None and Path(probe.source).is_file():
            # the output starts at the first frame: the audio is read from that moment
            # of the source on (its own later start, if any, comes with its timestamps)
            cmd += ["-ss", f"{probe.video_start:.6f}"] if probe.video_start > 0 else []
            cmd += ["-i", _local(probe.source), "-map", "0:v:0", "-map", "1:a:0"]
            cmd += ["-c:a", c.audio_codec if c.audio_codec != "copy" or probe.audio in MP4_AUDIO
                    else "aac"]
        filters = [f"setsar={probe.sar}"] if probe.sar not in ("1/1", "0/1") else []  # anamorphic
        if c.watermark:
            (Path(work) / WATERMARK_FILE).write_text(c.watermark, encoding="utf-8")
            filters.append(DRAWTEXT)
        if filters:
            cmd += ["-vf", ",".join(filters)]
        pix_fmt = c.pix_fmt
        if pix_fmt == "yuv420p" and (probe.width % 2 or probe.height % 2):
            log.warning("%s: odd size %dx%d; encoding yuv444p to keep every pixel",
                        probe.source, probe.width, probe.height)
            pix_fmt = "yuv444p"
        cmd += ["-c:v", c.codec, "-crf", str(c.crf), "-preset", c.preset, "-pix_fmt", pix_fmt]
        # VFR: a fine time base, else frames closer than the guessed rate are dropped
        cmd += (["-fps_mode", "vfr", "-enc_time_base:v", "1:90000"] if probe.vfr
                else ["-fps_mode", "passthrough"])
        if c.synthetic_tag:
            cmd += ["-metadata", f"comment={SYNTHETIC_COMMENT}",
                    "-metadata", "synthetic=true", "-movflags", "+use_metadata_tags"]
        cmd += ["-f", "mp4", _local(tmp)]
        log.info("merge: %s", " ".join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True, errors="replace", cwd=work,
                             preexec_fn=_dies_with_parent)
        if res.returncode != 0:
            errors = [m.group(3) or m.group(5) for line in res.stderr.splitlines()
                      if (m := _LOG_RE.match(line))]
            if writing := _write_failure(errors, res.returncode):
                raise VideoError(f"{out_path}: could not write the video: {writing}")
            raise VideoError(f"{out_path}: could not encode the video: "
                             + (errors[0] if errors else f"exit status {res.returncode}"))


def _frame_input(frames: list[Path], probe: Probe, listing: Path) -> list[str]:
    """ffmpeg input arguments that replay the frames with the source's timing."""
    if not probe.vfr:
        # one folder of links named by frame number (frames may lie in several shards);
        # image2 reads % in the whole pattern: a literal one is %%
        links = listing.with_name("frames")
        links.mkdir()
        for frame in frames:
            (links / frame.name).symlink_to(frame.resolve())
        folder = str(links.resolve()).replace("%", "%%")
        return ["-framerate", probe.fps, "-start_number", "0", "-f", "image2",
                "-i", f"{folder}/{name_pattern(frames[0].suffix)}"]
    times = probe.timestamps + [probe.duration]
    lines = ["ffconcat version 1.0"]
    for frame, start, end in zip(frames, times, times[1:]):
        # a fine image2 rate, else each frame's time is rounded to 1/25 s
        lines += [f"file {_concat_quote(str(frame.resolve()))}", "option framerate 90000",
                  f"duration {end - start:.6f}"]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["-f", "concat", "-safe", "0", "-i", _local(listing)]


def _concat_quote(path: str) -> str:
    """A path as one quoted token of an ffconcat list (a ' closes, is escaped, reopens)."""
    return "'" + path.replace("'", "'\\''") + "'"


def _local(path: str | Path) -> str:
    """A local file for ffmpeg's -i: the file: protocol, so that no name (``pipe:1``,
    ``http://...``, ``concat:...``) is taken for another protocol."""
    return f"file:{Path(path).resolve()}"


WATERMARK_FILE = "watermark.txt"
# drawtext reads the label from WATERMARK_FILE in ffmpeg's working folder with
# expansion off: no character of the label reaches the filter graph's parser
DRAWTEXT = (f"drawtext=textfile={WATERMARK_FILE}:expansion=none:x=w-tw-10:y=h-th-10:"
            "fontsize=h/24:fontcolor=white@0.8:box=1:boxcolor=black@0.4")


CLIP_SECONDS, CLIP_HEIGHT = 10, 480  # the report's excerpt of an output video


def clip_page(path: str | Path, out_html: str | Path) -> None:
    """An HTML page that plays the first CLIP_SECONDS of a video, at most
    CLIP_HEIGHT pixels high, embedded (so the report shows the swap moving)."""
    with scratch_folder(out_html) as work:
        clip = work / "clip.mp4"
        res = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", _local(path),
             "-t", str(CLIP_SECONDS), "-vf", f"scale=-2:'2*trunc(min({CLIP_HEIGHT},ih)/2)'", "-c:v", "libx264",
             "-crf", "26", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             "-movflags", "+faststart", _local(clip)], capture_output=True, text=True,
            errors="replace", preexec_fn=_dies_with_parent)
        if res.returncode != 0:
            raise VideoError(f"{path}: could not cut the report's clip: {res.stderr.strip()[-300:]}")
        data = base64.b64encode(clip.read_bytes()).decode("ascii")
    with atomic_path(out_html) as tmp:
        tmp.write_text(f'<!DOCTYPE html><html><body style="margin:0;background:#000">'
                       f'<video controls loop style="max-width:100%" '
                       f'src="data:video/mp4;base64,{data}"></video></body></html>\n',
                       encoding="utf-8")


def describe(path: str | Path) -> dict:
    """Facts about an encoded file for tests and checks: frames, rate, audio, tags."""
    path = Path(path)
    header = read_header(path)
    res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", _local(path),
                          "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"],
                         capture_output=True, text=True, errors="replace", preexec_fn=_dies_with_parent)
    pts = [float(m.group(3)) for m in _SHOWINFO_RE.finditer(res.stderr)]
    tags = dict(re.findall(r"^\s{4}(\w+)\s*: (.*)$", res.stderr.split("Stream #")[0], re.M))
    return {"frames": len(pts), "width": header.width, "height": header.height,
            "duration": header.duration, "timestamps": pts, "audio": header.audio,
            "tags": tags, "rotation": header.rotation}


def decoded(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame of a video from one ffmpeg decode, upright, as read-only RGB
    uint8 arrays (H, W, 3); VideoError when the decoder fails part way."""
    width, height = upright_size(read_header(path))
    size = width * height * 3
    proc = subprocess.Popen(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", _local(path),
         "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "pipe:"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=_dies_with_parent)
    count = 0
    try:
        while len(data := proc.stdout.read(size)) == size:
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
            count += 1
        if code := proc.wait():
            raise VideoError(f"{path}: ffmpeg could not decode frame {count} (exit status {code})")
    finally:  # also when the reader stops early
        proc.kill()
        proc.wait()
        proc.stdout.close()


class VideoFrames:
    """The frames of an encoded video by index: ``frames[i]`` is frame ``i``,
    upright, as a read-only RGB uint8 array (H, W, 3); ``len(frames)`` counts
    them (from the packets, without decoding).

    One decode (``decoded``) is read forward, so frames asked in increasing
    order cost one decode; asking for a frame before the last one read restarts
    it from the start. Only the last two frames read are kept. Close it (or use
    it as a context manager) to stop the decoder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._frames: Iterator[np.ndarray] | None = None
        self._next = 0  # index of the frame the decoder gives next
        self._cache: dict[int, np.ndarray] = {}
        self._count: int | None = None

    def __len__(self) -> int:
        if self._count is None:
            res = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", _local(self.path),
                                  "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
                                 capture_output=True, text=True, errors="replace",
                                 preexec_fn=_dies_with_parent)
            counts = re.findall(r"frame=\s*(\d+)", res.stderr)
            if res.returncode != 0 or not counts:
                raise VideoError(f"{self.path}: ffmpeg could not count its frames")
            self._count = int(counts[-1])
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:
        if index in self._cache:
            return self._cache[index]
        if index < 0:
            raise VideoError(f"{self.path}: no frame {index}")
        if self._frames is None or index < self._next:
            self.close()
            self._frames = decoded(self.path)
        try:
            while self._next <= index:
                frame = next(self._frames, None)
                if frame is None:
                    raise VideoError(f"{self.path}: no frame {index}; it has {self._next} frames")
                self._next += 1
        except VideoError:
            self.close()
            raise
        self._cache[index] = frame
        if len(self._cache) > 2:
            del self._cache[next(iter(self._cache))]  # the oldest read
        return frame

    def close(self) -> None:
        """Stop the decoder (a later access starts a new one)."""
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self._next = 0

    def __enter__(self) -> "VideoFrames":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

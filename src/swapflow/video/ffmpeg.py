"""The ffmpeg binary: finding it, running it, and reading what it prints.

Only the ``ffmpeg`` binary shipped by imageio-ffmpeg is used (it has no
``ffprobe``), so stream facts are read from ffmpeg's own log: the header it
prints for every input and the ``showinfo`` filter's line per frame.
"""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import imageio_ffmpeg

from swapflow.io import InputError

HEADER_TIMEOUT_S = 60  # reading a header takes well under a second

# a frame of the showinfo filter: n, pts, pts_time
SHOWINFO_RE = re.compile(r"n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.]+)")
# an error line at -loglevel level+...: [component @ 0x...] [error] text, or [error] text
LOG_RE = re.compile(r"^\[(\w+)[^\]]*\] \[(error|fatal)\] (.*)$|^\[(error|fatal)\] (.*)$")

_VIDEO_RE = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+)")
_AUDIO_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+)")
_ROT_RE = re.compile(r"rotation of (-?[\d.]+) degrees")
_DUR_RE = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_FPS_RE = re.compile(r"([\d.]+) fps")


class VideoError(InputError):
    """A video that cannot be used; the message names the file and the problem."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _dies_with_parent() -> None:
    """preexec_fn of every ffmpeg started here: SIGKILL when the process that
    started it ends (a killed job leaves no ffmpeg behind; Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run(args: Sequence[str], *, timeout: float | None = None,
        cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run ffmpeg with ``args`` to its end; its output and log come back as text."""
    return subprocess.run([ffmpeg_exe(), *args], capture_output=True, text=True, errors="replace",
                          timeout=timeout, cwd=cwd, preexec_fn=_dies_with_parent)


def pipe(args: Sequence[str], *, stderr: int) -> subprocess.Popen:
    """Start ffmpeg with ``args``, its output on a pipe (bytes); ``stderr``: PIPE or DEVNULL."""
    return subprocess.Popen([ffmpeg_exe(), *args], stdout=subprocess.PIPE, stderr=stderr,
                            preexec_fn=_dies_with_parent)


def file_url(path: str | Path) -> str:
    """A local file for ffmpeg's -i: the file: protocol, so that no name (``pipe:1``,
    ``http://...``, ``concat:...``) is taken for another protocol."""
    return f"file:{Path(path).resolve()}"


@dataclass
class Header:
    """Facts read from ffmpeg's description of an input."""

    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    codec: str = ""
    audio: str | None = None
    rotation: int = 0
    duration: float = 0.0
    fps_hint: float = 0.0


def upright_size(header: Header) -> tuple[int, int]:
    """(width, height) of the frames ffmpeg decodes: turned upright by the rotation tag."""
    if header.rotation in (90, 270):
        return header.height, header.width
    return header.width, header.height


def parse_header(path: Path, text: str) -> Header:
    """The Header of ``path`` from ffmpeg's log ``text``; VideoError for what is no video."""
    if re.search(r"could not find codec parameters for stream \d+ \(Video: [^)]*none\(", text, re.I):
        raise VideoError(f"{path}: its video stream holds no frames (ffmpeg found no picture in it)")
    if "Invalid data found" in text or "could not find codec parameters" in text.lower():
        raise VideoError(f"{path}: not a video ffmpeg can read")
    video = _VIDEO_RE.search(text)
    if video is None:
        raise VideoError(f"{path}: has no video stream")
    h = Header(codec=video.group(1), pix_fmt=video.group(2),
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


def read_header(path: str | Path) -> Header:
    """Read a video's stream facts without decoding it."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file does not exist")
    if not path.is_file():
        raise VideoError(f"{path}: not a regular file (a FIFO, device or socket is not read)")
    try:
        res = run(["-hide_banner", "-nostdin", "-i", file_url(path)], timeout=HEADER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path}: ffmpeg did not read its header within {HEADER_TIMEOUT_S} s") from None
    return parse_header(path, res.stderr)

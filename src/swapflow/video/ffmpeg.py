"""The ffmpeg binary: finding it, running it, and reading what it prints.

Only the ``ffmpeg`` binary shipped by imageio-ffmpeg is used (it has no
``ffprobe``), so stream facts are read from ffmpeg's own log: the header it
prints for every input and the ``showinfo`` filter's line per frame. An input
whose log is read reaches ffmpeg by a name of swapflow's (``source``), never
its own: a file's name is printed in the log as it is, and one holding
``Stream #0:0: Video: h264, yuv420p, 64x64`` would be taken for the stream.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import stat
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import imageio_ffmpeg

from swapflow import MAX_IMAGE_PIXELS
from swapflow.io import InputError

HEADER_TIMEOUT_S = 60  # reading a header takes well under a second

# a line of the showinfo filter's own (not a tag's text the header prints) ...
SHOWINFO = r"^\[Parsed_showinfo_\d+ @ [^\]]*\] (?:\[info\] )?"
# ... that is a frame's: n, pts, pts_time
SHOWINFO_RE = re.compile(SHOWINFO + r"n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.]+)", re.M)
# an error line at -loglevel level+...: [component @ 0x...] [error] text, or [error] text
LOG_RE = re.compile(r"^\[(\w+)[^\]]*\] \[(error|fatal)\] (.*)$|^\[(error|fatal)\] (.*)$")

# the header's own lines, each from a line's start: a tag's text (a title holding
# "Stream #0:0: Video: ...") is printed after its key, never at a line's start
_VIDEO_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+)", re.M)
_AUDIO_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: Audio: (\w+)", re.M)
_ROT_RE = re.compile(r"^\s*display ?matrix: rotation of (-?[\d.]+) degrees", re.M | re.I)
_DUR_RE = re.compile(r"^\s*Duration: (\d+):(\d+):([\d.]+)", re.M)
_EMPTY_RE = re.compile(r"^\S.*could not find codec parameters for stream \d+ \(Video: [^)]*none\(", re.M | re.I)
_UNREADABLE_RE = re.compile(r"^\S.*(Invalid data found|could not find codec parameters)", re.M | re.I)
_FPS_RE = re.compile(r"([\d.]+) fps")


class VideoError(InputError):
    """A video that cannot be used; the message names the file and the problem."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _dies_with_parent() -> None:
    """preexec_fn of every ffmpeg started here: SIGKILL when the process that
    started it ends (a killed job leaves no ffmpeg behind; Linux)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run(args: Sequence[str], *, timeout: float | None = None, cwd: str | Path | None = None,
        pass_fds: Sequence[int] = ()) -> subprocess.CompletedProcess:
    """Run ffmpeg with ``args`` to its end; its output and log come back as text.
    ``pass_fds``: the files of ``source`` that ``args`` name."""
    return subprocess.run([ffmpeg_exe(), *args], capture_output=True, text=True, errors="replace",
                          timeout=timeout, cwd=cwd, pass_fds=pass_fds, preexec_fn=_dies_with_parent)


def pipe(args: Sequence[str], *, stderr: int, pass_fds: Sequence[int] = ()) -> subprocess.Popen:
    """Start ffmpeg with ``args``, its output on a pipe (bytes); ``stderr``: PIPE or DEVNULL."""
    return subprocess.Popen([ffmpeg_exe(), *args], stdout=subprocess.PIPE, stderr=stderr,
                            pass_fds=pass_fds, preexec_fn=_dies_with_parent)


def file_url(path: str | Path) -> str:
    """A local file for ffmpeg's -i: the file: protocol, so that no name (``pipe:1``,
    ``http://...``, ``concat:...``) is taken for another protocol."""
    return f"file:{Path(path).resolve()}"


@contextmanager
def source(path: str | Path) -> Iterator[tuple[str, tuple[int]]]:
    """(url, pass_fds) of the video ``path`` opened here, for an ffmpeg whose log is
    read: ffmpeg reads it as ``/proc/self/fd/N``, so nothing of its name reaches
    the log. VideoError for a missing file, and for a FIFO, device or socket (opened
    without waiting for a writer, and not read)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise VideoError(f"{path}: file does not exist") from None
    except OSError as err:
        raise VideoError(f"{path}: cannot be opened: {err.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise VideoError(f"{path}: not a regular file (a FIFO, device or socket is not read)")
        yield f"file:/proc/self/fd/{fd}", (fd,)
    finally:
        os.close(fd)


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
    if _EMPTY_RE.search(text):
        raise VideoError(f"{path}: its video stream holds no frames (ffmpeg found no picture in it)")
    if _UNREADABLE_RE.search(text):
        raise VideoError(f"{path}: not a video ffmpeg can read")
    video = _VIDEO_RE.search(text)
    if video is None:
        raise VideoError(f"{path}: has no video stream")
    h = Header(codec=video.group(1), pix_fmt=video.group(2),
               width=int(video.group(3)), height=int(video.group(4)))
    if h.width * h.height > MAX_IMAGE_PIXELS:  # a small file can hold frames of gigabytes
        raise VideoError(f"{path}: its frames are {h.width}x{h.height} pixels, more than the "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} million pixels swapflow reads; not decoded")
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
    try:
        with source(path) as (url, fds):
            res = run(["-hide_banner", "-nostdin", "-i", url], timeout=HEADER_TIMEOUT_S, pass_fds=fds)
    except subprocess.TimeoutExpired:
        raise VideoError(f"{path}: ffmpeg did not read its header within {HEADER_TIMEOUT_S} s") from None
    return parse_header(path, res.stderr)

"""Reading an encoded video's frames: one decode, read forward."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np

from swapflow.video.ffmpeg import VideoError, pipe, read_header, run, source, upright_size


def decoded(path: str | Path) -> Iterator[np.ndarray]:
    """Every frame of a video from one ffmpeg decode, upright, as read-only RGB
    uint8 arrays (H, W, 3); VideoError when the decoder fails part way."""
    width, height = upright_size(read_header(path))
    size = width * height * 3
    with source(path) as (url, fds):
        proc = pipe(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-map", "0:v:0",
                     "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"],
                    stderr=subprocess.DEVNULL, pass_fds=fds)
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
            with source(self.path) as (url, fds):
                res = run(["-hide_banner", "-nostdin", "-i", url,
                           "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], pass_fds=fds)
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

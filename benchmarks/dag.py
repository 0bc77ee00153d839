"""How `snakemake -n` on a finished project scales with the frame count.

Builds two projects from synthetic clips (ffmpeg's test source, 100 and
10,000 frames), runs their extraction (the part of the DAG whose job count
grows with frames: one detection job per shard), then times a dry run of
each and prints the ratio. Usage: python benchmarks/dag.py [--frames 100 10000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from swapflow import video

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def project(root: Path, frames: int) -> list[str]:
    """A finished extraction of a synthetic clip; returns the snakemake command line."""
    root.mkdir()
    clip = root / "clip.mp4"
    subprocess.run([video.ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=96x96:rate=25,trim=end_frame={frames}", str(clip)], check=True)
    config = {"videos": {"clip": str(clip)}, "identities": {"a": {"videos": ["clip"]},
                                                            "b": {"videos": ["clip"]}},
              "swaps": [{"name": "s", "face": "a", "target": "b"}]}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(root), "--configfile",
           str(root / "config.yaml"), "--cores", "2", "results/align/clip.parquet"]
    subprocess.run(cmd, check=True, capture_output=True)
    return cmd


def dry_run_seconds(cmd: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        res = subprocess.run([*cmd, "-n"], check=True, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        assert "Nothing to be done" in res.stdout + res.stderr, res.stdout + res.stderr
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs=2, default=[100, 10_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [project(Path(tmp) / f"p{n}", n) for n in args.frames]
        small, large = (dry_run_seconds(cmd) for cmd in cmds)
    print(f"dry run  {args.frames[0]} frames {small:5.2f} s  {args.frames[1]} frames "
          f"{large:5.2f} s  ratio {large / small:5.2f}")


if __name__ == "__main__":
    main()

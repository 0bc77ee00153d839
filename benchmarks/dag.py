"""How `snakemake -n` on a finished project scales with the frame count.

Builds two projects from synthetic clips (ffmpeg's test source, 100 and
100,000 frames), runs their extraction (one detection job per shard), then
times a dry run of each and prints the ratio, and the jobs a dry run of the
whole swap plans for the longer clip (one detect and one convert job per
shard). Usage: python benchmarks/dag.py [--frames 100 100000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from swapflow.video.ffmpeg import ffmpeg_exe

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
SNAKEFILE = REPO / "workflow" / "Snakefile"


def project(root: Path, frames: int) -> list[str]:
    """A finished extraction of a synthetic clip; returns the snakemake command line."""
    root.mkdir()
    clip = root / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=96x96:rate=25,trim=end_frame={frames}", str(clip)], check=True)
    config = {"videos": {"clip": str(clip)}, "identities": {"a": {"videos": ["clip"]},
                                                            "b": {"videos": ["clip"]}},
              "swaps": [{"name": "s", "face": "a", "target": "b"}],
              # detection on every 100th frame: the same jobs, a fraction of the work
              "extract": {"every_n": 100}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(root), "--configfile",
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


def planned(cmd: list[str]) -> dict[str, int]:
    """Jobs per rule of a dry run of ``cmd``'s default target (every swap)."""
    res = subprocess.run([*cmd, "-n", "--quiet", "rules"], check=True, capture_output=True,
                         text=True)
    return {parts[0]: int(parts[1]) for line in (res.stdout + res.stderr).splitlines()
            if len(parts := line.split()) == 2 and parts[1].isdigit()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs=2, default=[100, 100_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmds = [project(Path(tmp) / f"p{n}", n) for n in args.frames]
        small, large = (dry_run_seconds(cmd) for cmd in cmds)
        whole = planned(cmds[1][:-1])
        shards = len(list(Path(tmp, f"p{args.frames[1]}", "results/detect/clip").iterdir()))
    print(f"{args.frames[1]} frames: {shards} detect jobs ran; the rest of the swap plans "
          + ", ".join(f"{rule} {whole.get(rule, 0)}" for rule in ("train", "convert", "merge")))
    print(f"dry run  {args.frames[0]} frames {small:5.2f} s  {args.frames[1]} frames "
          f"{large:5.2f} s  ratio {large / small:5.2f}")


if __name__ == "__main__":
    main()

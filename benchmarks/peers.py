"""swapflow against faceswap side by side in one run: training speed and held-out reconstruction at equal time.

Takes a faceswap checkout (deepfakes/faceswap, ``--faceswap``) and the Python
that runs it (``--faceswap-python``); nothing is fetched. Both learn the same
faces: the demo facesets (woman = A, man = B) split by swapflow's own
hold-out; faceswap gets the training faces as its extract writes them (from
the same frames and landmarks, by ``peers_faceswap.py faces``). faceswap
trains its Original model (``faceswap.py train -t original``), swapflow its
``original`` preset, at the same batch size, in alternating rounds of
``--seconds`` of training each. faceswap's round is timed from its second
iteration's line (its start-up, model loading and the save after a run's
first iteration are not counted) to its last; it is stopped as a user stops
it, by Enter in its terminal (it saves and exits). swapflow's trainer runs whole
iterations until its round's time is up. After each round both models
rebuild the same held-out faces through their own decoders, each in its own
crop, and ``swapflow.reconstruction.scores`` measures both, weighted by the
faceset's face mask carried into that crop. ``--work`` gets both models,
``peers.json`` (each round's figures) and ``peers.png`` (for each side, rows
of held-out faces and their rebuilds: faceswap's crop, Original's rebuild,
swapflow's crop, its rebuild).
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

from swapflow.faceset import load_faceset  # before torch: swapflow sets OpenMP's wait policy

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from swapflow.frames import list_frames  # noqa: E402
from swapflow.reconstruction import scores  # noqa: E402
from swapflow.train.config import compose_config  # noqa: E402
from swapflow.train.trainer import Trainer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from train_bench import CACHE, demo_facesets  # noqa: E402

ITERATION = re.compile(rb"\[#(\d+)\]")
SIDES = {"a": "woman", "b": "man"}


def entries(trainer: Trainer, side: str, which: str, cache: Path) -> list[dict]:
    """The faces of one side (``train_indices`` or ``holdout_indices``) as frame files and frame landmarks."""
    record = trainer.facesets[side][0]
    fs = load_faceset(trainer.paths[side][0])
    frames = list_frames(cache / f"frames_{SIDES[side]}")
    out = []
    for i in record[which]:
        row = fs.index.iloc[i]
        inverse = cv2.invertAffineTransform(np.asarray(row["matrix"], np.float64).reshape(2, 3))
        points = np.asarray(fs.landmarks[i], np.float64) @ inverse[:, :2].T + inverse[:, 2]
        out.append({"frame": str(frames[int(row["frame"])]), "landmarks": points.tolist(),
                    "name": f"{SIDES[side]}_{i:05d}", "side": side, "index": int(i)})
    return out


def faceswap_round(args: argparse.Namespace, faces: dict[str, Path], model: Path) -> tuple[int, float]:
    """Train faceswap for ``args.seconds`` from its second iteration line (it saves the model
    after a run's first iteration); (iterations, seconds) from that line to its last."""
    cmd = [str(args.faceswap_python), "faceswap.py", "train", "-A", str(faces["a"]), "-B", str(faces["b"]),
           "-m", str(model), "-t", "original", "-b", str(args.batch_size), "-i", "100000000", "-s", "100000000"]
    # a terminal, as a user runs it: faceswap stops, saving its model, when Enter is pressed there
    # (a SIGINT also stops its data loader, which ends the run in an error)
    terminal, their_end = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=args.faceswap, stdin=their_end, stdout=their_end, stderr=their_end,
                            env=faceswap_env(args))
    os.close(their_end)
    first = last = None
    lines_seen = 0
    buffer, said, asked = b"", [], False
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the terminal closes with the process
            chunk = b""
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        said = (said + [line for line in lines if line.strip()])[-20:]
        for line in lines:
            found = ITERATION.search(line)
            if found:
                lines_seen += 1
                last = (int(found.group(1)), time.perf_counter())
                first = first or (last if lines_seen == 2 else None)  # after its save at the round's first
        if first and time.perf_counter() - first[1] >= args.seconds and not asked:
            os.write(terminal, b"\n")
            asked = True
    os.close(terminal)
    if proc.wait() != 0 or first is None:
        raise SystemExit(f"faceswap train failed (exit {proc.returncode}):\n"
                         + "\n".join(line.decode(errors="replace") for line in said))
    return last[0] - first[0], last[1] - first[1]


def faceswap_env(args: argparse.Namespace) -> dict[str, str]:
    """faceswap 3 runs Keras on torch; its own backend choice (``FACESWAP_BACKEND``) is the user's, else cpu."""
    return {"FACESWAP_BACKEND": "cpu"} | os.environ | {
        "FACESWAP": str(args.faceswap), "KERAS_BACKEND": "torch", "MPLBACKEND": "Agg"}


def faceswap_scores(args: argparse.Namespace, model: Path, holdout: list[dict], trainer: Trainer) -> dict:
    """Both sides' held-out faces through faceswap's own decoders, measured by swapflow."""
    listing = args.work / "holdout.json"
    listing.write_text(json.dumps(holdout))
    out = args.work / "faceswap_predict.npz"
    subprocess.run([str(args.faceswap_python), str(REPO / "benchmarks" / "peers_faceswap.py"), "predict",
                    str(model), str(listing), str(out)], check=True, env=faceswap_env(args), cwd=args.faceswap,
                   stdout=subprocess.DEVNULL)
    got = np.load(out)
    result = {}
    for side in "ab":
        pick = [j for j, e in enumerate(holdout) if e["side"] == side]
        fs = load_faceset(trainer.paths[side][0])
        masks = []
        for j in pick:
            e = holdout[j]
            to_frame = cv2.invertAffineTransform(np.asarray(fs.index.iloc[e["index"]]["matrix"]).reshape(2, 3))
            m = got["matrix"][j] @ np.vstack([to_frame, [0, 0, 1]])  # faceset crop -> faceswap crop
            size = got["out"].shape[1]
            masks.append(cv2.warpAffine(np.asarray(fs.masks[e["index"]]), m, (size, size),
                                        flags=cv2.INTER_AREA).astype(np.float32) / 255)
        result[side] = scores(got["out"][pick], got["target"][pick], np.stack(masks))
        result[side]["faces"] = (got["target"][pick], got["out"][pick])
    return result


def swapflow_round(trainer: Trainer, seconds: float) -> tuple[int, float]:
    """Whole iterations while ``seconds`` of training steps last (the learning
    curve's point that ends each ``fit`` is not counted); (iterations, seconds)."""
    done, spent, chunk = 0, 0.0, 1
    while chunk:
        trainer.cfg.iterations = trainer.iteration + chunk
        got = trainer.fit()
        done, spent = done + got["iterations"], spent + got["seconds"] - got["curve_seconds"]
        chunk = int((seconds - spent) * done / spent)
    return done, spent


def swapflow_scores(trainer: Trainer, holdout: list[dict]) -> dict:
    net = trainer.model
    result = {}
    for side in "ab":
        fs = load_faceset(trainer.paths[side][0])
        idx = [e["index"] for e in holdout if e["side"] == side]
        faces = np.stack([np.asarray(fs.faces[i]) for i in idx])
        masks = np.stack([np.asarray(fs.masks[i]) for i in idx])
        out, _ = net.swap(faces, to=side)
        target = net.coverage_crop(faces)
        result[side] = scores(out, target, net.coverage_crop(masks).astype(np.float32) / 255)
        result[side]["faces"] = (target, out)
    return result


def picture(last: dict[str, dict], path: Path, n: int = 8) -> None:
    """For each side, rows of held-out faces and their rebuilds: faceswap's crop
    and Original's rebuild, swapflow's crop and its rebuild (64 px, shown at 128)."""
    rows = []
    for side in "ab":
        for name in ("faceswap", "swapflow"):
            for images in last[name][side]["faces"]:
                picks = images[np.linspace(0, len(images) - 1, n).astype(int)]
                rows.append(np.hstack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_NEAREST) for f in picks]))
    cv2.imwrite(str(path), np.vstack(rows)[..., ::-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faceswap", type=Path, required=True, help="a checkout of deepfakes/faceswap")
    p.add_argument("--faceswap-python", type=Path, required=True, help="the Python faceswap runs with")
    p.add_argument("--work", type=Path, required=True, help="a folder for the faces and both models")
    p.add_argument("--seconds", type=float, default=300, help="training time of each side in a round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--cache", type=Path, default=CACHE)
    args = p.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    fa, fb = demo_facesets(args.cache)
    cfg = compose_config(REPO / "config", "original", [
        f"batch_size={args.batch_size}", "log_every_s=1e9", "checkpoint_every=100000000",
        "preview_every=100000000"])
    trainer = Trainer(cfg, [fa], [fb], args.work / "swapflow", threads=args.threads)
    faces = {}
    for side in "ab":
        faces[side] = args.work / f"faces_{side}"
        if not faces[side].exists():
            listing = args.work / f"train_{side}.json"
            listing.write_text(json.dumps(entries(trainer, side, "train_indices", args.cache)))
            subprocess.run([str(args.faceswap_python), str(REPO / "benchmarks" / "peers_faceswap.py"), "faces",
                            str(listing), str(faces[side])], check=True, env=faceswap_env(args))
    holdout = entries(trainer, "a", "holdout_indices", args.cache) + entries(trainer, "b", "holdout_indices",
                                                                             args.cache)
    print(f"faces: A {len(list(faces['a'].iterdir()))}, B {len(list(faces['b'].iterdir()))} to train on, "
          f"{len(holdout)} held out; batch {args.batch_size}, {args.threads} threads", flush=True)
    totals = {"faceswap": [0, 0.0], "swapflow": [0, 0.0]}
    rows, last = [], {}
    for r in range(args.rounds):
        for name in ("faceswap", "swapflow"):
            its, secs = (faceswap_round(args, faces, args.work / "faceswap_model") if name == "faceswap"
                         else swapflow_round(trainer, args.seconds))
            totals[name][0] += its
            totals[name][1] += secs
            got = last[name] = (faceswap_scores(args, args.work / "faceswap_model", holdout, trainer)
                                if name == "faceswap" else swapflow_scores(trainer, holdout))
            row = {"round": r + 1, "trainer": name, "iterations": totals[name][0],
                   "seconds": round(totals[name][1]), "samples_per_s": 2 * args.batch_size * its / secs,
                   "psnr_masked_a": got["a"]["psnr_masked"], "psnr_masked_b": got["b"]["psnr_masked"],
                   "ssim_masked_a": got["a"]["ssim_masked"], "ssim_masked_b": got["b"]["ssim_masked"]}
            rows.append(row)
            print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
    (args.work / "peers.json").write_text(json.dumps(rows, indent=1))
    picture(last, args.work / "peers.png")
    trainer.save_checkpoint()  # swapflow's model, beside faceswap's


if __name__ == "__main__":
    main()

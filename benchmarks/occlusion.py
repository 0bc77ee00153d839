"""Occlusion masks measured on occluders with known truth.

Trains the demo's lite swap of the man's face onto the woman's clip (the
target whose own decoder rebuilds her face), then pastes occluders into runs
of consecutive clean frames of her clip (no tracked hand): cut-outs of her
own hands from other frames, strands of her hair, and patches of the man's
clip (shirt, wall) as a disc, a bar and a triangle, small and large, over her
mouth, an eye and a cheek. Each occluder is fixed to the face (aligned
space) for its run, so the true occlusion mask of every face is known. The
alignments stay those of the clean frames: this measures the masks, not how
landmarks cope with a covered face.

For each way of cutting occluders out of the face mask it reports

- IoU: the predicted occlusion against the truth, inside the face mask;
- kept: the share of occluder pixels (inside the face mask) that the
  converted frame leaves as they were (within 8 levels of 255);
- clean area: on faces without occluders, the final mask's area against
  that with no occlusion (1.0: no loss);

and a sweep of the reconstruction threshold and temporal window (IoU and
clean area, from the masks alone). On the real clip it reports how much of
the tracked hands reconstruction finds, and writes strips to look at.

Usage: python benchmarks/occlusion.py [--work DIR] [--iterations N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from quality import project, snakemake  # noqa: E402
from swapflow.geometry import transform_points, warp  # noqa: E402
from swapflow.alignments import kept_faces, read_alignments  # noqa: E402
from swapflow.anatomy import POINTS  # noqa: E402
from swapflow.convert import (blend_mask, convert_frames, face_mask, load_swapper, occlusion_mask,  # noqa: E402
                              rebuild_errors, soften)
from swapflow.frames import frame_name, list_frames, outline, read_frame, write_frame, write_jpeg  # noqa: E402
from swapflow.mask import make_mask  # noqa: E402
from swapflow.occlusion import hand_mask, hands_by_frame, track_hands  # noqa: E402
from swapflow.settings import ConvertConfig, FramesConfig, HandsConfig  # noqa: E402

SWAP = {"name": "man_on_woman", "face": "man", "target": "woman", "videos": ["woman"]}
RUN = 6  # consecutive frames an occluder stays
GAP = 3  # clean frames between runs: windows of up to 2 frames either side never see two runs
SIZE = 256  # aligned crop side
TOLERANCE = 8  # levels of 255 within which an occluder pixel counts as kept
METHODS = {"none": (), "hands": ("hands",), "reconstruction": ("reconstruction",),
           "hands+reconstruction": ("hands", "reconstruction")}
SPOTS = {"mouth": range(48, 68), "eye": range(36, 42), "cheek": (3, 4, 31, 48)}


KINDS = ("all", "hand", "hair", "object")


def kind_of(name: str) -> str:
    return name.split()[0] if name.split()[0] in KINDS else "object"


@dataclass
class Occluder:
    """A cut-out in aligned space: RGB and alpha (0/1) of a ``SIZE`` crop, centred."""

    name: str
    rgb: np.ndarray
    alpha: np.ndarray


def centred(name: str, crop: np.ndarray, alpha: np.ndarray) -> Occluder:
    """The cut-out moved so its centre of mass is the crop's centre."""
    ys, xs = np.nonzero(alpha)
    shift = np.float64([[1, 0, SIZE / 2 - xs.mean()], [0, 1, SIZE / 2 - ys.mean()]])
    move = lambda image: cv2.warpAffine(image, shift, (SIZE, SIZE), flags=cv2.INTER_NEAREST)  # noqa: E731
    return Occluder(name, move(crop), move(alpha))


def shape(kind: str, radius: int) -> np.ndarray:
    alpha = np.zeros((SIZE, SIZE), np.uint8)
    c = SIZE // 2
    if kind == "disc":
        cv2.circle(alpha, (c, c), radius, 1, -1)
    elif kind == "bar":
        cv2.fillConvexPoly(alpha, cv2.boxPoints(((c, c), (2.6 * radius, 0.7 * radius), 25)).astype(np.int32), 1)
    elif kind == "triangle":
        pts = [(c + radius * np.cos(a), c + radius * np.sin(a)) for a in np.radians([-90, 30, 150])]
        cv2.fillConvexPoly(alpha, np.int32(pts), 1)
    elif kind == "strand":
        pts = np.int32([(c - 0.35 * radius, c - 1.6 * radius), (c + 0.25 * radius, c - 1.6 * radius),
                        (c + 0.45 * radius, c + 1.6 * radius), (c - 0.15 * radius, c + 1.6 * radius)])
        cv2.fillConvexPoly(alpha, pts, 1)
    return alpha


def occluders(woman: Path, woman_faces: pd.DataFrame, hands: pd.DataFrame, man: Path,
              man_faces: pd.DataFrame) -> list[Occluder]:
    """Hands of the woman from frames where she has them, her hair, and the man's clip."""
    found = []
    by_frame = hands_by_frame(hands)
    for frame in sorted(by_frame)[len(by_frame) // 3::len(by_frame) // 3][:2]:
        row = woman_faces[woman_faces["frame"] == frame].iloc[0]
        matrix = np.asarray(row["matrix"], np.float64).reshape(2, 3)
        alpha = hand_mask(by_frame[frame], matrix, SIZE, 0.1).astype(np.uint8)
        found.append(centred(f"hand {frame}", warp(read_frame(woman / frame_name(frame, "jpg")), matrix, SIZE), alpha))
    first = woman_faces.iloc[0]
    crop = warp(read_frame(woman / frame_name(first["frame"], "jpg")), np.asarray(first["matrix"]).reshape(2, 3), SIZE)
    hair = np.roll(crop, SIZE // 2 - 18, axis=1)  # the left edge of her crop (hair) to the centre
    for radius in (22, 34):
        found.append(Occluder(f"hair {radius}", hair, shape("strand", radius)))
    row = man_faces.iloc[len(man_faces) // 2]
    matrix = np.asarray(row["matrix"], np.float64).reshape(2, 3)
    image = read_frame(man / frame_name(row["frame"], "jpg"))
    # the man's crop moved down and sideways: shirt and wall where the face would be
    for kind, radius, dx, dy in (("disc", 22, 0, 150), ("disc", 40, 90, 120), ("bar", 26, -100, 40),
                                 ("triangle", 36, 110, 0)):
        rgb = warp(image, matrix - np.float64([[0, 0, dx], [0, 0, dy]]), SIZE)
        found.append(Occluder(f"{kind} {radius}", rgb, shape(kind, radius)))
    return found


def spots(points: np.ndarray) -> dict[str, np.ndarray]:
    """Where occluders go on a face: aligned-space centres of its mouth, left eye and cheek."""
    return {name: points[list(idx)].mean(0) for name, idx in SPOTS.items()}


def paste(image: np.ndarray, matrix: np.ndarray, occ: Occluder, at: np.ndarray) -> np.ndarray:
    """``occ`` pasted into the frame ``image`` (in place) with its centre at aligned point
    ``at``; returns the true occlusion in aligned space."""
    move = np.float64([[1, 0, at[0] - SIZE / 2], [0, 1, at[1] - SIZE / 2]])
    truth = cv2.warpAffine(occ.alpha, move, (SIZE, SIZE), flags=cv2.INTER_NEAREST)
    to_frame = cv2.invertAffineTransform(matrix) @ np.vstack([move, [0, 0, 1]])
    h, w = image.shape[:2]
    rgb = cv2.warpAffine(occ.rgb, to_frame, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(occ.alpha * 255, to_frame, (w, h), flags=cv2.INTER_LINEAR) > 127
    image[alpha] = rgb[alpha]
    return truth.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, help="project folder, kept (default: a temporary one)")
    parser.add_argument("--iterations", type=int, help="training iterations (default: the lite preset's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        if not (work / "config.yaml").exists():
            project(work, [SWAP | ({"train": {"iterations": args.iterations}} if args.iterations else {})])
        snakemake(work, "--until", "train")
        measure(work)


def measure(work: Path) -> None:
    results = work / "results"
    woman, man = results / "frames" / "woman", results / "frames" / "man"
    faces = kept_faces(read_alignments(results / "align" / "woman.parquet"))
    model = load_swapper(next((results / "model").iterdir()), SWAP["face"], SWAP["target"])
    frames = list_frames(woman)
    hands = track_hands(frames, faces["frame"], HandsConfig())
    with_hands = set(hands["frame"])
    by_frame_hands = hands_by_frame(hands)
    print(f"hands tracked in {len(with_hands)} of {len(faces)} frames of the woman's clip")
    cuts = occluders(woman, faces, hands, man, kept_faces(read_alignments(results / "align" / "man.parquet")))
    combos = [(occ, spot) for occ in cuts for spot in SPOTS]
    # runs of RUN frames, GAP apart, after the last hand; clean faces before the first
    free = [f for f in faces["frame"] if not any(abs(f - h) <= GAP for h in with_hands)]
    by_frame = {row.frame: row for row in faces.itertuples()}
    stretch = [f for f in free if f > max(with_hands)]
    clean = [f for f in free if f < min(with_hands)]
    starts = stretch[::RUN + GAP][:len(combos)]
    if len(starts) < len(combos):
        raise SystemExit(f"room for {len(starts)} runs, {len(combos)} needed")
    comp_dir = work / "occluded" / "woman"
    comp_dir.mkdir(parents=True, exist_ok=True)
    for path in frames:
        target = comp_dir / path.name
        target.unlink(missing_ok=True)
        os.link(path, target)
    truths: dict[int, tuple[str, np.ndarray]] = {}
    quality = FramesConfig(jpeg_quality=100)
    for (occ, spot), start in zip(combos, starts):
        for f in range(start, start + RUN):
            row = by_frame[f]
            matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
            points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), matrix)
            image = read_frame(comp_dir / frame_name(f, "jpg"))
            truths[f] = (f"{occ.name} on {spot}", paste(image, matrix, occ, spots(points)[spot]))
            (comp_dir / frame_name(f, "jpg")).unlink()
            write_frame(comp_dir / frame_name(f, "jpg"), image, quality)
    comp_frames = list_frames(comp_dir)
    occluded = sorted(truths)
    measured = [comp_frames[f] for f in occluded + clean]
    comp_hands = track_hands(comp_frames, occluded + clean, HandsConfig())
    print(f"{len(occluded)} faces with occluders ({len(combos)} runs of {RUN}: {len(cuts)} cut-outs x "
          f"{len(SPOTS)} spots), {len(clean)} clean faces; hands tracked in "
          f"{comp_hands['frame'].nunique()} of the composited frames")

    landmark = make_mask("extended")
    box = model.coverage_box(SIZE)
    x0, y0, side = box
    reach = 2
    errors = rebuild_errors(comp_frames, faces, measured, model, ConvertConfig(occlusion_frames=reach))
    hands_at = hands_by_frame(comp_hands)

    def masks(cfg: ConvertConfig, frames_: list[int]):
        for f in frames_:
            row = by_frame[f]
            whole = face_mask(row, box, SIZE, landmark, None, cfg)
            covered = occlusion_mask(row, box, SIZE, whole, cfg, hands_at, errors)
            yield f, whole, covered, blend_mask(whole, covered, cfg)

    def scores(cfg: ConvertConfig) -> dict[str, float]:
        """IoU over all occluded faces and by kind, flicker, and the clean faces' mask area."""
        inter, union, previous, flicker = {}, {}, None, []
        for f, whole, covered, _ in masks(cfg, occluded):
            name = truths[f][0]
            kind = kind_of(name)
            truth = truths[f][1][y0:y0 + side, x0:x0 + side] * (whole > 0.5)
            found = (covered > 0.5) * (whole > 0.5)
            for key in ("all", kind):
                inter[key] = inter.get(key, 0) + (truth * found).sum()
                union[key] = union.get(key, 0) + np.maximum(truth, found).sum()
            # frames whose whole window lies inside the run: the occluder neither comes nor goes
            inside = reach_of(cfg) <= (f - run_start[f]) < RUN - reach_of(cfg)
            if not inside:
                previous = None
                continue
            if previous is not None and previous[0] == name and (found.any() or previous[1].any()):
                flicker.append(1 - (found * previous[1]).sum() / np.maximum(found, previous[1]).sum())
            previous = (name, found)
        area = [final.sum() / max(soften(whole, cfg).sum(), 1) for _, whole, _, final in masks(cfg, clean)]
        return {**{f"IoU {k}": inter[k] / max(union[k], 1) for k in inter},
                "flicker": float(np.mean(flicker)) if flicker else 0.0,
                "clean area": float(np.mean(area)), "clean min": float(np.min(area))}

    def reach_of(cfg: ConvertConfig) -> int:
        return cfg.occlusion_frames if "reconstruction" in cfg.occlusion else 0

    run_start = {f: start for start in starts for f in range(start, start + RUN)}
    kinds = tuple(f"IoU {k}" for k in KINDS)
    head = " ".join(f"{k:>10s}" for k in (*kinds, "flicker", "clean area", "min"))
    row_of = lambda s: " ".join(f"{s[k]:10.3f}" for k in (*kinds, "flicker", "clean area", "clean min"))  # noqa: E731
    print("\nreconstruction sweep (masks only):")
    print(f"{'threshold':>9s} {'area':>5s} {'frames':>6s} {head}")
    for threshold in (2.0, 3.0, 4.0):
        for min_area in (0.0, 0.01, 0.02):
            for window in (0, 1, 2):
                s = scores(ConvertConfig(occlusion=("reconstruction",), occlusion_threshold=threshold,
                                         occlusion_frames=window, occlusion_min_area=min_area))
                print(f"{threshold:9.1f} {min_area:5.2f} {window:6d} {row_of(s)}")

    print("\nmethods (defaults of convert otherwise):")
    print(f"{'method':22s} {head} " + " ".join(f"{'kept ' + k:>6s}" for k in KINDS))
    strips = []
    # the middle frame of one run of each cut-out, the spots taking turns
    shown = [starts[k + (k // len(SPOTS)) % len(SPOTS)] + RUN // 2 for k in range(0, len(starts), len(SPOTS))]
    for name, occlusion in METHODS.items():
        cfg = ConvertConfig(occlusion=occlusion)
        s = scores(cfg)
        with tempfile.TemporaryDirectory() as out:
            convert_frames(measured, faces, model, Path(out) / "f", cfg=cfg, frames=quality, hands=comp_hands,
                           video_frames=comp_frames)
            kept, total, tiles = {}, {}, []
            for f in occluded:
                kind = kind_of(truths[f][0])
                row = by_frame[f]
                matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
                before, after = read_frame(comp_frames[f]), read_frame(Path(out) / "f" / comp_frames[f].name)
                whole = np.zeros((SIZE, SIZE), np.float32)
                whole[y0:y0 + side, x0:x0 + side] = face_mask(row, box, SIZE, landmark, None, cfg)
                truth = truths[f][1] * (whole > 0.5)
                h, w = before.shape[:2]
                inside = cv2.warpAffine(truth, cv2.invertAffineTransform(matrix), (w, h), flags=cv2.INTER_NEAREST) > 0
                same = np.abs(before.astype(int) - after.astype(int)).max(-1) <= TOLERANCE
                for key in ("all", kind):
                    kept[key] = kept.get(key, 0) + same[inside].sum()
                    total[key] = total.get(key, 0) + inside.sum()
                if f in shown:
                    covered = np.zeros((SIZE, SIZE), np.float32)
                    covered[y0:y0 + side, x0:x0 + side] = occlusion_mask(
                        row, box, SIZE, whole[y0:y0 + side, x0:x0 + side], cfg, hands_at, errors)
                    tiles.append(outline(outline(warp(after, matrix, SIZE), truth, (255, 0, 0)), covered))
            strips.append(np.hstack(tiles))
        print(f"{name:22s} {row_of(s)} " + " ".join(f"{kept[k] / total[k]:6.3f}" for k in KINDS))
    write_jpeg(work / "occlusion.jpg", np.vstack(strips))

    real = sorted(with_hands)
    cfg = ConvertConfig(occlusion=("reconstruction",))
    errors.update(rebuild_errors(frames, faces, [frames[f] for f in real], model, cfg))
    found = inside = 0.0
    for f in real:
        row = by_frame[f]
        whole = face_mask(row, box, SIZE, landmark, None, cfg) > 0.5
        hand = hand_mask(by_frame_hands[f], np.asarray(row.matrix).reshape(2, 3), SIZE, 0.0)
        hand = hand[y0:y0 + side, x0:x0 + side] > 0.5
        covered = occlusion_mask(row, box, SIZE, whole.astype(np.float32), cfg, {}, errors) > 0.5
        found += (covered & hand & whole).sum()
        inside += (hand & whole).sum()
    print(f"\nher real hands ({len(real)} frames): reconstruction covers {found / inside:.1%} "
          "of the tracked hands' pixels inside her face mask")
    print(f"\nstrips (rows: {', '.join(METHODS)}; red: the true occluder, green: the found one): "
          f"{work / 'occlusion.jpg'}")


if __name__ == "__main__":
    main()

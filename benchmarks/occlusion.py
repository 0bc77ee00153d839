"""Occlusion masks measured on occluders with known truth.

Trains the demo's lite swap of the man's face onto the woman's clip (the
target whose own decoder rebuilds her face), plain and with a mask learned
on pasted occluders (``MASKED``), then pastes occluders into runs
of consecutive clean frames of her clip (no tracked hand): cut-outs of her
own hands from other frames, strands of her hair, and patches of the man's
clip (shirt, wall) as a disc, a bar and a triangle, small and large, over her
mouth, an eye and a cheek. Each occluder is fixed to the face (aligned
space) for its run, so the true occlusion mask of every face is known. The
alignments stay those of the clean frames: this measures the masks, not how
landmarks cope with a covered face.

For each way of cutting occluders out of the face mask (``METHODS``: hands,
reconstruction, learned, skin and their unions) it reports

- IoU: the predicted occlusion against the truth, inside the face mask;
- kept: the share of occluder pixels (inside the face mask) that the
  converted frame leaves as they were (within 8 levels of 255);
- clean area: on faces without occluders, the final mask's area against
  that with no occlusion (1.0: no loss);

and a sweep of the reconstruction threshold and temporal window (IoU and
clean area, from the masks alone). On the real clip it reports how much of
the tracked hands reconstruction and the learned mask find, and writes
strips to look at. Then occluders that stay for the whole clip (a patch, her
hand held still, a bar: ``STILL``) are pasted into every frame of her clip,
made a video, and converted (kept and IoU per occluder) by the masked swap
trained on the clean clip and by the same swap trained on that video.

Usage: python benchmarks/occlusion.py [--work DIR] [--iterations N]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from quality import project, snakemake  # noqa: E402
from swapflow.geometry import transform_points, warp  # noqa: E402
from swapflow.alignments import kept_faces, read_alignments  # noqa: E402
from swapflow.anatomy import POINTS  # noqa: E402
from swapflow.blending import blend_mask, face_mask, face_view, soften  # noqa: E402
from swapflow.convert import convert_frames, load_swapper  # noqa: E402
from swapflow.frames import (frame_index, frame_name, list_frames, outline, read_frame, write_frame,  # noqa: E402
                             write_jpeg)
from swapflow.mask import make_mask  # noqa: E402
from swapflow.occlusion import OCCLUSIONS, Scene, Source, covered  # noqa: E402
from swapflow.occlusion.hands import hand_mask, hands_by_frame, track_hands  # noqa: E402
from swapflow.occlusion.reconstruction import Reconstruction, ReconstructionOptions  # noqa: E402
from swapflow.settings import ConvertConfig, FramesConfig  # noqa: E402
from swapflow.video.ffmpeg import ffmpeg_exe  # noqa: E402

SWAP = {"name": "man_on_woman", "face": "man", "target": "woman", "videos": ["woman"]}
# the same swap with a learned mask trained on pasted occluders
MASKED = SWAP | {"name": "man_on_woman_masked", "train": {"overrides": ["model.mask=true", "data.occlusion=0.5"]}}
RUN = 6  # consecutive frames an occluder stays
GAP = 3  # clean frames between runs: windows of up to 2 frames either side never see two runs
SIZE = 256  # aligned crop side
TOLERANCE = 8  # levels of 255 within which an occluder pixel counts as kept
# method -> convert settings (reconstruction's usual error: the model's held-out faces unless "video")
METHODS = {"none": {"occlusion": ()}, "hands": {"occlusion": ("hands",)},
           "reconstruction": {"occlusion": ("reconstruction",)},
           "reconstruction (video)": {"occlusion": ("reconstruction",), "sources": {"reconstruction": {"usual": "video"}}},
           "learned": {"occlusion": ("learned",)},
           "hands+reconstruction": {"occlusion": ("hands", "reconstruction")},
           "hands+learned": {"occlusion": ("hands", "learned")},
           "hands+reconstruction+learned": {"occlusion": ("hands", "reconstruction", "learned")},
           "skin": {"occlusion": ("skin",)},
           "hands+skin": {"occlusion": ("hands", "skin")},
           "hands+reconstruction+skin": {"occlusion": ("hands", "reconstruction", "skin")},
           "hands+reconstruction+learned+skin": {"occlusion": ("hands", "reconstruction", "learned", "skin")}}
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
        swaps = [swap | {"train": swap.get("train", {}) | ({"iterations": args.iterations} if args.iterations else {})}
                 for swap in (SWAP, MASKED)]
        if not (work / "config.yaml").exists():
            project(work, swaps)
        snakemake(work, "--until", "train")
        for masked in (False, True):
            measure(work, masked)
        constant(work, swaps[1])


def model_dir(results: Path, masked: bool) -> Path:
    """The project's model of ``SWAP`` (masked: of ``MASKED``)."""
    for folder in sorted((results / "model").iterdir()):
        if yaml.safe_load((folder / "config.yaml").read_text())["model"].get("mask", False) == masked:
            return folder
    raise SystemExit(f"no {'masked ' if masked else ''}model in {results / 'model'}")


def learned_masks(model, frames: Sequence[Path], faces: pd.DataFrame, wanted: Iterable[int]) -> dict[int, np.ndarray]:
    """frame -> the model's learned mask of its face (decoder A, as convert), for models that learn one."""
    if not model.predicts_mask:
        return {}
    rows = faces[faces["frame"].isin(list(wanted))]
    crops = np.stack([warp(read_frame(frames[row.frame]), np.asarray(row.matrix).reshape(2, 3), SIZE)
                      for row in rows.itertuples()])
    return dict(zip(rows["frame"], model.swap(crops, to="a")[1]))


def crop_of(frames: Sequence[Path], row) -> np.ndarray:
    """The aligned crop of the face of ``row`` (``frames``: its video's, by index)."""
    return warp(read_frame(frames[row.frame]), np.asarray(row.matrix, np.float64).reshape(2, 3), SIZE)


class Sources:
    """The occlusion sources of one measurement (the faces ``measured`` of a video),
    reconstruction's errors computed once for each usual error (the windows up to ``reach``)."""

    def __init__(self, model, frames: Sequence[Path], faces: pd.DataFrame, measured: Sequence[Path],
                 hands: pd.DataFrame | None, reach: int = 1) -> None:
        self.scene = Scene(model, {frame_index(p): p for p in frames}, faces, list(measured), 16, 0.01, hands)
        self.reconstruction = {usual: Reconstruction(self.scene, ReconstructionOptions(usual=usual, frames=reach))
                               for usual in ("model", "video")} if usable("reconstruction", model) else {}
        self.built: dict[str, list[Source]] = {}  # by the settings' repr: built once, not once a face

    def of(self, cfg: ConvertConfig) -> list[Source]:
        """The sources ``cfg`` chooses, with its settings."""
        if repr(cfg) not in self.built:
            self.built[repr(cfg)] = self._build(cfg)
        return self.built[repr(cfg)]

    def _build(self, cfg: ConvertConfig) -> list[Source]:
        out: list[Source] = []
        scene = dataclasses.replace(self.scene, min_area=cfg.occlusion_min_area)
        for name in cfg.occlusion:
            options = cfg.sources.get(name, {})
            if name == "reconstruction":  # the errors measured, other settings
                source = copy.copy(self.reconstruction[options.get("usual", "model")])
                source.options, source.min_area = ReconstructionOptions(**options), cfg.occlusion_min_area
            else:
                source = OCCLUSIONS.make(name, options, scene=scene)
            out.append(source)
        return out

    def covered(self, cfg: ConvertConfig, row, box, crop: np.ndarray, whole: np.ndarray,
                learned: np.ndarray | None) -> np.ndarray:
        """What ``cfg``'s sources find over the face of ``row`` (``whole``: its landmark mask)."""
        return covered(self.of(cfg), face_view(row, box, crop, whole, learned))


def usable(name: str, model) -> bool:
    return model.predicts_mask or "learned" not in METHODS[name]["occlusion"]


def measure(work: Path, masked: bool) -> None:
    results = work / "results"
    woman, man = results / "frames" / "woman", results / "frames" / "man"
    faces = kept_faces(read_alignments(results / "align" / "woman.parquet"))
    folder = model_dir(results, masked)
    model = load_swapper(folder, SWAP["face"], SWAP["target"])
    run = json.loads((folder / "manifest.json").read_text())["last_run"]
    curve = pd.read_csv(folder / "curve.tsv", sep="\t").iloc[-1]
    print(f"\n## model {folder.name}: {'mask + occlusion' if masked else 'plain lite'}; "
          f"{run['samples_per_s']:.1f} samples/s; held-out masked PSNR A {curve['recon_a_psnr_masked']:.2f} dB, "
          f"B {curve['recon_b_psnr_masked']:.2f} dB")
    frames = list_frames(woman)
    hands = track_hands(frames, faces["frame"])
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
    comp_hands = track_hands(comp_frames, occluded + clean)
    print(f"{len(occluded)} faces with occluders ({len(combos)} runs of {RUN}: {len(cuts)} cut-outs x "
          f"{len(SPOTS)} spots), {len(clean)} clean faces; hands tracked in "
          f"{comp_hands['frame'].nunique()} of the composited frames")

    landmark = make_mask("extended")
    box = model.coverage_box(SIZE)
    x0, y0, side = box
    reach = 2
    sources = Sources(model, comp_frames, faces, measured, comp_hands, reach)
    learned = learned_masks(model, comp_frames, faces, occluded + clean)

    crops = {f: crop_of(comp_frames, by_frame[f]) for f in occluded + clean}

    def masks(cfg: ConvertConfig, frames_: list[int]):
        for f in frames_:
            row = by_frame[f]
            whole = face_mask(row, box, crops[f], landmark, None, cfg)
            found = sources.covered(cfg, row, box, crops[f], whole, learned.get(f))
            yield f, whole, found, blend_mask(whole, found, cfg)

    def scores(cfg: ConvertConfig) -> dict[str, float]:
        """IoU over all occluded faces and by kind, flicker, and the clean faces' mask area."""
        inter, union, previous, flicker = {}, {}, None, []
        for f, whole, cut, _ in masks(cfg, occluded):
            name = truths[f][0]
            kind = kind_of(name)
            truth = truths[f][1][y0:y0 + side, x0:x0 + side] * (whole > 0.5)
            found = (cut > 0.5) * (whole > 0.5)
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
        return cfg.sources.get("reconstruction", {}).get("frames", 1) if "reconstruction" in cfg.occlusion else 0

    run_start = {f: start for start in starts for f in range(start, start + RUN)}
    kinds = tuple(f"IoU {k}" for k in KINDS)
    head = " ".join(f"{k:>10s}" for k in (*kinds, "flicker", "clean area", "min"))
    row_of = lambda s: " ".join(f"{s[k]:10.3f}" for k in (*kinds, "flicker", "clean area", "clean min"))  # noqa: E731
    if not masked:
        print("\nreconstruction sweep (masks only; the model's usual error):")
        print(f"{'threshold':>9s} {'area':>5s} {'frames':>6s} {head}")
        for threshold in (2.0, 3.0, 4.0):
            for min_area in (0.0, 0.01, 0.02):
                for window in (0, 1, 2):
                    s = scores(ConvertConfig(occlusion=("reconstruction",), occlusion_min_area=min_area,
                                             sources={"reconstruction": {"threshold": threshold, "frames": window}}))
                    print(f"{threshold:9.1f} {min_area:5.2f} {window:6d} {row_of(s)}")

    print("\nmethods (defaults of convert otherwise):")
    print(f"{'method':30s} {head} " + " ".join(f"{'kept ' + k:>6s}" for k in KINDS))
    strips = []
    # the middle frame of one run of each cut-out, the spots taking turns
    shown = [starts[k + (k // len(SPOTS)) % len(SPOTS)] + RUN // 2 for k in range(0, len(starts), len(SPOTS))]
    for name in [n for n in METHODS if usable(n, model)]:
        cfg = ConvertConfig(**METHODS[name])
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
                whole[y0:y0 + side, x0:x0 + side] = face_mask(row, box, crops[f], landmark, None, cfg)
                truth = truths[f][1] * (whole > 0.5)
                h, w = before.shape[:2]
                inside = cv2.warpAffine(truth, cv2.invertAffineTransform(matrix), (w, h), flags=cv2.INTER_NEAREST) > 0
                same = np.abs(before.astype(int) - after.astype(int)).max(-1) <= TOLERANCE
                for key in ("all", kind):
                    kept[key] = kept.get(key, 0) + same[inside].sum()
                    total[key] = total.get(key, 0) + inside.sum()
                if f in shown:
                    found = np.zeros((SIZE, SIZE), np.float32)
                    found[y0:y0 + side, x0:x0 + side] = sources.covered(
                        cfg, row, box, crops[f], whole[y0:y0 + side, x0:x0 + side], learned.get(f))
                    tiles.append(outline(outline(warp(after, matrix, SIZE), truth, (255, 0, 0)), found))
            strips.append(np.hstack(tiles))
        print(f"{name:30s} {row_of(s)} " + " ".join(f"{kept[k] / total[k]:6.3f}" for k in KINDS))
    write_jpeg(work / f"occlusion{'-masked' if masked else ''}.jpg", np.vstack(strips))

    real = sorted(with_hands)
    on_real = Sources(model, frames, faces, [frames[f] for f in real], None)
    learned.update(learned_masks(model, frames, faces, real))
    for name in ("reconstruction", "learned", "skin"):
        if not usable(name, model):
            continue
        cfg = ConvertConfig(**METHODS[name])
        found = inside = 0.0
        for f in real:
            row = by_frame[f]
            crop = crop_of(frames, row)
            whole = face_mask(row, box, crop, landmark, None, cfg) > 0.5
            hand = hand_mask(by_frame_hands[f], np.asarray(row.matrix).reshape(2, 3), SIZE, 0.0)
            hand = hand[y0:y0 + side, x0:x0 + side] > 0.5
            cut = on_real.covered(cfg, row, box, crop, whole.astype(np.float32), learned.get(f)) > 0.5
            found += (cut & hand & whole).sum()
            inside += (hand & whole).sum()
        print(f"her real hands ({len(real)} frames): {name} covers {found / inside:.1%} "
              "of the tracked hands' pixels inside her face mask")
    print(f"strips (rows: {', '.join(n for n in METHODS if usable(n, model))}; red: the true occluder, "
          f"green: the found one): {work / 'occlusion.jpg'}")


# what -> (where, the landmark it is put on, moved this share of the way to the nose tip)
STILL = {"patch": ("mouth corner", 54, 0.1), "hand": ("cheek", 2, 0.35), "bar": ("chin", 8, 0.1)}


def still_occluders(woman: Path, faces: pd.DataFrame, hands: pd.DataFrame) -> dict[str, Occluder]:
    """What stays on her face for the whole clip: a flat-coloured patch, a cut-out of
    her own hand (held still), a dark bar like a microphone."""
    by_frame = hands_by_frame(hands)
    frame = sorted(by_frame)[len(by_frame) // 2]
    row = faces[faces["frame"] == frame].iloc[0]
    matrix = np.asarray(row["matrix"], np.float64).reshape(2, 3)
    alpha = hand_mask(by_frame[frame], matrix, SIZE, 0.1).astype(np.uint8)
    hand = centred("hand", warp(read_frame(woman / frame_name(frame, "jpg")), matrix, SIZE), alpha)
    small = cv2.resize(hand.alpha, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_NEAREST)
    rgb = cv2.resize(hand.rgb, None, fx=0.6, fy=0.6)
    pad = (SIZE - small.shape[0]) // 2
    hand = Occluder("hand", cv2.copyMakeBorder(rgb, pad, SIZE - small.shape[0] - pad, pad,
                                               SIZE - small.shape[1] - pad, cv2.BORDER_CONSTANT),
                    cv2.copyMakeBorder(small, pad, SIZE - small.shape[0] - pad, pad, SIZE - small.shape[1] - pad,
                                       cv2.BORDER_CONSTANT))
    patch = np.zeros((SIZE, SIZE), np.uint8)
    cv2.rectangle(patch, (SIZE // 2 - 16, SIZE // 2 - 16), (SIZE // 2 + 16, SIZE // 2 + 16), 1, -1)
    return {"patch": Occluder("patch", np.full((SIZE, SIZE, 3), (70, 160, 90), np.uint8), patch),
            "hand": hand,
            "bar": Occluder("bar", np.full((SIZE, SIZE, 3), (25, 25, 30), np.uint8), shape("bar", 30))}


def constant(work: Path, swap: dict) -> None:
    """Occluders on her face in every frame of her clip: converted by the masked model
    trained on the clean clip, and by the same swap trained on the occluded clip."""
    results = work / "results"
    woman = results / "frames" / "woman"
    faces = kept_faces(read_alignments(results / "align" / "woman.parquet"))
    hands = track_hands(list_frames(woman), faces["frame"])
    cuts = still_occluders(woman, faces, hands)
    fps = json.loads((results / "probe" / "woman.json").read_text())["fps"]
    other = work / "constant"
    comp = other / "frames"
    comp.mkdir(parents=True, exist_ok=True)
    quality = FramesConfig(jpeg_quality=100)
    truth: dict[int, dict[str, np.ndarray]] = {}  # frame -> what -> where it is, in frame pixels
    for path in list_frames(woman):
        image = read_frame(path)
        f = frame_index(path)
        row = faces[faces["frame"] == f]
        if len(row):
            matrix = np.asarray(row.iloc[0]["matrix"], np.float64).reshape(2, 3)
            points = transform_points(np.asarray(row.iloc[0]["landmarks"], np.float64).reshape(POINTS, 2), matrix)
            truth[f] = {}
            for what, (_, mark, inwards) in STILL.items():
                at = points[mark] + (points[33] - points[mark]) * inwards
                aligned = paste(image, matrix, cuts[what], at)
                h, w = image.shape[:2]
                truth[f][what] = cv2.warpAffine(aligned, cv2.invertAffineTransform(matrix), (w, h),
                                                flags=cv2.INTER_NEAREST) > 0
        write_frame(comp / path.name, image, quality)
    video = other / "woman.mp4"
    if not video.exists():  # made once: a new file would train its swap again in a kept --work
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", str(fps), "-i",
                        str(comp / "%06d.jpg"), "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv444p", str(video)],
                       check=True)
    if not (other / "config.yaml").exists():
        project(other, [swap])
        config = yaml.safe_load((other / "config.yaml").read_text())
        config["videos"]["woman"] = str(video)
        (other / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(other, "--until", "train")
    # both cases convert the occluded clip as the workflow would: with its own alignments
    frames = list_frames(other / "results" / "frames" / "woman")
    comp_faces = kept_faces(read_alignments(other / "results" / "align" / "woman.parquet"))
    measured = [f for f in comp_faces["frame"] if f in truth][::4]
    comp_hands = track_hands(frames, measured)
    print(f"\n## occluders in every frame of her clip ({', '.join(f'{k} on the {v[0]}' for k, v in STILL.items())}), "
          f"{len(measured)} faces measured; kept / IoU per occluder")
    print(f"{'B trained on':14s} {'method':30s} " + " ".join(f"{k:>12s}" for k in STILL))
    for case, folder in (("the clean clip", model_dir(results, True)),
                         ("this clip", model_dir(other / "results", True))):
        model = load_swapper(folder, SWAP["face"], SWAP["target"])
        box = model.coverage_box(SIZE)
        x0, y0, side = box
        landmark = make_mask("extended")
        learned = learned_masks(model, frames, comp_faces, measured)
        sources = Sources(model, frames, comp_faces, [frames[f] for f in measured], comp_hands)
        by_frame = {row.frame: row for row in comp_faces.itertuples()}
        tiles = []
        for name in METHODS:
            cfg = ConvertConfig(**METHODS[name])
            kept, total, inter, union = {}, {}, {}, {}
            with tempfile.TemporaryDirectory() as out:
                convert_frames([frames[f] for f in measured], comp_faces, model, Path(out) / "f", cfg=cfg,
                               frames=quality, hands=comp_hands, video_frames=frames)
                for f in measured:
                    row = by_frame[f]
                    matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
                    before, after = read_frame(frames[f]), read_frame(Path(out) / "f" / frames[f].name)
                    h, w = before.shape[:2]
                    crop = crop_of(frames, row)
                    whole = face_mask(row, box, crop, landmark, None, cfg)
                    in_face = np.zeros((SIZE, SIZE), np.float32)
                    in_face[y0:y0 + side, x0:x0 + side] = whole
                    face_frame = cv2.warpAffine(in_face, cv2.invertAffineTransform(matrix), (w, h)) > 0.5
                    same = np.abs(before.astype(int) - after.astype(int)).max(-1) <= TOLERANCE
                    cut = sources.covered(cfg, row, box, crop, whole, learned.get(f)) > 0.5
                    aligned = {what: (warp(where.astype(np.uint8), matrix, SIZE)[y0:y0 + side, x0:x0 + side] > 0)
                               & (whole > 0.5) for what, where in truth[f].items()}
                    for what, where in truth[f].items():
                        inside = where & face_frame
                        kept[what] = kept.get(what, 0) + same[inside].sum()
                        total[what] = total.get(what, 0) + inside.sum()
                        t = aligned[what]
                        # found where another occluder is is neither right nor wrong for this one
                        others = np.logical_or.reduce([a for k, a in aligned.items() if k != what])
                        inter[what] = inter.get(what, 0) + (t & cut).sum()
                        union[what] = union.get(what, 0) + (t | (cut & (whole > 0.5) & ~others)).sum()
                    if f == measured[len(measured) // 2]:
                        tiles.append(outline(warp(after, matrix, SIZE)[y0:y0 + side, x0:x0 + side], cut))
            print(f"{case:14s} {name:30s} " + " ".join(
                f"{kept[k] / max(total[k], 1):5.3f}/{inter[k] / max(union[k], 1):5.3f} " for k in STILL))
        write_jpeg(work / f"constant-{'clean' if case == 'the clean clip' else 'own'}.jpg", np.hstack(tiles))


if __name__ == "__main__":
    main()

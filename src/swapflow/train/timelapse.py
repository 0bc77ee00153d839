"""The timelapse: the same faces drawn by the model as it learns, a frame every
``preview_every`` iterations, and a GIF of them in the model folder.

The frames are kept in the checkpoint folder (``timelapse/<iteration>.jpg``), so
a resumed run, or a longer one going on from a shorter one's checkpoint, carries
them on. A frame is a pure function of the weights: a resumed run's timelapse is
the straight run's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from swapflow.frames import read_frame, spread, write_jpeg
from swapflow.io import atomic_path
from swapflow.train.models import FaceSwapModel

FRAMES = "timelapse"  # the folder of frames, in the checkpoint folder
FACES = 6  # faces a row
MOST_FRAMES = 100  # the GIF shows at most this many, spread over the run
SECONDS = 0.25  # a frame's time in the GIF (the last one's: 2 s)


def fixed_faces(faces: np.ndarray, holdout: list[int]) -> np.ndarray:
    """``FACES`` faces spread over a faceset's held-out faces (over all without any)."""
    picks = np.asarray(holdout if len(holdout) >= FACES else range(len(faces)), int)
    return np.asarray(faces[np.sort(picks[spread(len(picks), FACES)])])


def frame(model: FaceSwapModel, faces: dict[str, np.ndarray], iteration: int) -> np.ndarray:
    """Rows: A, A rebuilt by decoder A, B, B drawn by decoder A (the swap); the iteration written on it."""
    rows = [np.concatenate(list(model.coverage_crop(faces["a"])), 1),
            np.concatenate(list(model.swap(faces["a"], to="a")[0]), 1),
            np.concatenate(list(model.coverage_crop(faces["b"])), 1),
            np.concatenate(list(model.swap(faces["b"], to="a")[0]), 1)]
    image = np.ascontiguousarray(np.concatenate(rows, 0))
    scale = max(model.size / 128, 0.4)
    for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(image, f"it {iteration}", (4, int(18 * scale) + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    colour, width, cv2.LINE_AA)
    return image


def write_frame(checkpoint_dir: Path, image: np.ndarray, iteration: int) -> None:
    write_jpeg(checkpoint_dir / FRAMES / f"{iteration:08d}.jpg", image)


def _frames(checkpoint_dir: Path, up_to: int) -> list[Path]:
    return sorted(p for p in (checkpoint_dir / FRAMES).glob("*.jpg") if int(p.stem) <= up_to)


def carry_over(source_dir: Path, checkpoint_dir: Path, up_to: int, every: int) -> None:
    """Copy another run's frames up to iteration ``up_to`` (the checkpoint this run goes
    on from), those ``every`` iterations apart: without its own last, off that grid."""
    (checkpoint_dir / FRAMES).mkdir(parents=True, exist_ok=True)
    for path in _frames(source_dir, up_to):
        if int(path.stem) % every == 0:
            shutil.copyfile(path, checkpoint_dir / FRAMES / path.name)


def write_gif(checkpoint_dir: Path, out: Path, up_to: int) -> None:
    """The GIF of the frames up to iteration ``up_to``: at most ``MOST_FRAMES``, the first and last among them."""
    paths = _frames(checkpoint_dir, up_to)
    paths = [paths[i] for i in spread(len(paths), MOST_FRAMES)]
    images = [Image.fromarray(read_frame(p)) for p in paths]
    durations = [int(SECONDS * 1000)] * (len(images) - 1) + [2000]
    with atomic_path(out) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)

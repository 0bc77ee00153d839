"""Put the swapped face into every frame: crop, run the model, paste back, blend.

For each kept face of the target video: crop it with its alignment matrix,
run it through the face identity's decoder, colour-match the result to the
face it replaces, and paste it back through the inverse transform, blended
with a feathered mask. Frames without a kept face are the original files
(hard links where the file system allows, else copies).
"""

from __future__ import annotations

import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Mapping, Protocol

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from swapflow.align import transform_points, warp
from swapflow.alignments import kept_faces
from swapflow.anatomy import POINTS
from swapflow.color import get_color_matcher
from swapflow.frames import frame_index, read_frame, write_frame
from swapflow.io import atomic_path, write_json
from swapflow.model_folder import check_identities
from swapflow.mask import make_mask
from swapflow.settings import ConvertConfig, FramesConfig, from_mapping

log = logging.getLogger(__name__)
POISSON_MIN_PIXELS = 64  # a smaller mask is alpha-blended: seamlessClone needs an inside

class Swapper(Protocol):
    """What convert needs of a model: a face swap and the crop square it covers."""

    predicts_mask: bool

    def swap(self, faces: np.ndarray, to: str = "a") -> tuple[np.ndarray, np.ndarray | None]:
        ...

    def coverage_box(self, crop_side: int) -> tuple[int, int, int]:
        ...


def load_swapper(model_dir: str | Path, face: str, target: str, device: str = "auto") -> Swapper:
    """Load a trained model, refusing one trained for other identities than the swap's."""
    from swapflow.train import load_model  # torch is heavy: only convert needs it

    check_identities(model_dir, face, target)
    return load_model(model_dir, device=device)[0]


def convert_frames(frame_paths: Sequence[Path], alignments: pd.DataFrame, model: Swapper,
                   out_dir: str | Path, cfg: Mapping[str, Any] | ConvertConfig | None = None,
                   frames: Mapping[str, Any] | FramesConfig | None = None,
                   patches_dir: str | Path | None = None) -> dict:
    """Write the converted frames to ``out_dir`` (atomically), with the quality
    that ``frames`` gives their format; return counts. Each frame is converted
    on its own, so any frame range (a shard) gives the same frames as the whole.
    With ``convert.patches`` the swapped face squares go to ``patches_dir``."""
    cfg, frames = from_mapping(ConvertConfig, cfg), from_mapping(FramesConfig, frames)
    if cfg.patches and patches_dir is None:
        raise ValueError("convert.patches needs a folder for the patches")
    if cfg.mask == "learned" and not model.predicts_mask:
        raise ValueError("convert.mask is 'learned' but the model predicts no mask; "
                         "use 'landmarks' or 'both', or a preset with a learned mask")
    faces = kept_faces(alignments)
    by_frame = {frame: rows for frame, rows in faces.groupby("frame")}
    matcher = get_color_matcher(cfg.color)
    landmark_mask = make_mask(cfg.landmark_mask) if cfg.mask != "learned" else None
    counts = {"frames": len(frame_paths), "swapped_frames": 0, "swapped_faces": 0}
    # reading and writing PNGs overlap the model and the blending (cv2 releases the GIL)
    with atomic_path(out_dir) as tmp, ThreadPoolExecutor(max_workers=2) as io:
        tmp.mkdir()
        written = []
        patches = []
        chunks = range(0, len(frame_paths), cfg.batch_size)
        bar = tqdm(total=len(frame_paths), desc="convert", unit="frame", mininterval=2.0)
        for start in chunks:
            chunk = [(frame_index(path), path) for path in frame_paths[start:start + cfg.batch_size]]
            todo = [(i, path) for i, path in chunk if i in by_frame]
            written += [io.submit(_link, path, tmp / path.name)
                        for i, path in chunk if i not in by_frame]
            images = dict(zip([i for i, _ in todo], io.map(read_frame, [path for _, path in todo])))
            rows = [(i, row) for i, _ in todo for row in by_frame[i].itertuples()]
            crops = np.stack([warp(images[i], _matrix(row), int(row.size)) for i, row in rows]) if rows else None
            if crops is not None:
                swapped, learned = model.swap(crops, to="a")
                box = model.coverage_box(crops.shape[1])
                for k, (i, row) in enumerate(rows):
                    mask = _blend_mask(row, box, crops.shape[1], landmark_mask,
                                       None if learned is None else learned[k], cfg)
                    face = _prepare_face(swapped[k], crops[k], mask, box, matcher, cfg)
                    _paste(images[i], face, mask, box, _matrix(row), cfg.blend)
                    if cfg.patches:
                        patches.append((i, row.face, face, _matrix(row), box))
            written += [io.submit(write_frame, tmp / path.name, images[i], frames)
                        for i, path in todo]
            counts["swapped_frames"] += len(todo)
            counts["swapped_faces"] += len(rows)
            bar.update(len(chunk))
        for job in written:
            job.result()  # raises the first failed write
        bar.close()
    if patches_dir is not None:
        _write_patches(Path(patches_dir), patches)  # an empty folder unless convert.patches
    log.info("converted %(frames)d frames: %(swapped_faces)d faces swapped in "
             "%(swapped_frames)d frames, the rest copied unchanged", counts)
    return counts


def _link(source: Path, dest: Path) -> None:
    """``dest`` is ``source``'s file: a hard link, or a copy across file systems."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def _matrix(row) -> np.ndarray:
    return np.asarray(row.matrix, dtype=np.float64).reshape(2, 3)


def _blend_mask(row, box: tuple[int, int, int], crop_side: int, landmark_mask,
                learned: np.ndarray | None, cfg: ConvertConfig) -> np.ndarray:
    """Float mask in [0, 1] over the model's square of the crop, eroded and feathered."""
    x0, y0, side = box
    masks = []
    if landmark_mask is not None:
        points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2),
                                  _matrix(row))
        full = landmark_mask(points, crop_side).astype(np.float32) / 255
        masks.append(full[y0:y0 + side, x0:x0 + side])
    if learned is not None and cfg.mask != "landmarks":
        masks.append(cv2.resize(learned.astype(np.float32), (side, side)))
    mask = np.minimum.reduce(masks)
    if cfg.erode:
        k = max(1, int(abs(cfg.erode) * side)) * 2 + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        mask = cv2.erode(mask, kernel) if cfg.erode > 0 else cv2.dilate(mask, kernel)
    if cfg.feather:
        sigma = cfg.feather * side
        pad = int(3 * sigma) + 1
        # zero padding: the mask fades out before the edge of the model's square
        padded = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        mask = cv2.GaussianBlur(padded, (0, 0), sigma)[pad:-pad, pad:-pad]
    return np.clip(mask, 0, 1)


def _prepare_face(swapped: np.ndarray, crop: np.ndarray, mask: np.ndarray,
                  box: tuple[int, int, int], matcher, cfg: ConvertConfig) -> np.ndarray:
    x0, y0, side = box
    face = cv2.resize(swapped, (side, side), interpolation=cv2.INTER_CUBIC)
    if cfg.sharpen:
        blurred = cv2.GaussianBlur(face, (0, 0), max(1.0, side / 128))
        face = cv2.addWeighted(face, 1 + cfg.sharpen, blurred, -cfg.sharpen, 0)
    return matcher(face, crop[y0:y0 + side, x0:x0 + side], mask)


def _paste(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, box: tuple[int, int, int],
           matrix: np.ndarray, blend: str) -> None:
    """Warp the face square back into ``frame`` (in place), only over its bounding box."""
    x0, y0, side = box
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[x0, y0], [x0 + side, y0], [x0, y0 + side], [x0 + side, y0 + side]],
                       np.float64)
    pts = transform_points(corners, inverse)
    h, w = frame.shape[:2]
    left, top = np.floor(pts.min(0)).astype(int).clip(0, [w, h])
    right, bottom = np.ceil(pts.max(0)).astype(int).clip(0, [w, h])
    if right <= left or bottom <= top:
        return
    # square pixels -> frame pixels of the region of interest
    to_roi = inverse @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    to_roi[:, 2] -= (left, top)
    size = (int(right - left), int(bottom - top))
    warped = cv2.warpAffine(face, to_roi, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(mask, to_roi, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    roi = frame[top:bottom, left:right]
    if blend == "poisson" and (alpha > 0.5).sum() > POISSON_MIN_PIXELS:
        binary = ((alpha[..., 0] > 0.5) * 255).astype(np.uint8)
        binary[[0, -1], :] = 0
        binary[:, [0, -1]] = 0
        center = (roi.shape[1] // 2, roi.shape[0] // 2)
        cloned = cv2.seamlessClone(warped, np.ascontiguousarray(roi), binary, center,
                                   cv2.NORMAL_CLONE)
        warped = cloned
    roi[:] = (roi * (1 - alpha) + warped * alpha + 0.5).astype(np.uint8)


def _write_patches(folder: Path, patches: list) -> None:
    """Each swapped face square as PNG plus the matrix mapping frame -> square pixels
    (``index.json``), written atomically; no patches, an empty folder."""
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        index = []
        for frame, face, image, matrix, (x0, y0, side) in patches:
            name = f"{frame:06d}_{face}.png"
            cv2.imwrite(str(tmp / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            to_square = np.array([[1, 0, -x0], [0, 1, -y0]], np.float64) @ np.vstack([matrix, [0, 0, 1]])
            index.append({"frame": frame, "face": face, "file": name,
                          "matrix": to_square.ravel().tolist()})
        if index:
            write_json(tmp / "index.json", index)

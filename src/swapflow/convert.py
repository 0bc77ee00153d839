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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from swapflow.geometry import transform_points, warp
from swapflow.alignments import face_matrix, kept_faces, table, whole_batches
from swapflow.anatomy import POINTS
from swapflow.color import get_color_matcher
from swapflow.frames import frame_index, read_frame, write_frame
from swapflow.io import atomic_path, write_json, write_parquet
from swapflow.model_folder import check_identities, load_model
from swapflow.mask import make_mask
from swapflow.occlusion import Face, Scene, covered, make_sources
from swapflow.settings import ConvertConfig, FramesConfig
from swapflow.schema import from_mapping

log = logging.getLogger(__name__)
POISSON_MIN_PIXELS = 64  # a smaller mask is alpha-blended: seamlessClone needs an inside
OUTLINE_COLUMNS = {"frame": "int64", "face": "int64", "outline": "object"}

class Swapper(Protocol):
    """What convert needs of a model: a face swap and the crop square it covers."""

    predicts_mask: bool
    usual_error: tuple[np.ndarray, np.ndarray] | None  # decoder B's on B's held-out faces: median, spread

    def swap(self, faces: np.ndarray, to: str = "a") -> tuple[np.ndarray, np.ndarray | None]:
        ...

    def coverage_box(self, crop_side: int) -> tuple[int, int, int]:
        ...

    def coverage_crop(self, images: np.ndarray) -> np.ndarray:
        ...


def load_swapper(model_dir: str | Path, face: str, target: str, device: str = "auto") -> Swapper:
    """Load a trained model, refusing one trained for other identities than the swap's."""
    check_identities(model_dir, face, target)
    return load_model(model_dir, device=device)[0]


@dataclass
class ConvertPlan:
    """What a convert job does, decided before a frame is read: the job's frames,
    the faces the model runs on in whole batches of ``batch_size`` of the video's
    faces (counted from its first, so a face comes out the same wherever a
    shard starts) and the frames those batches read."""

    mine: dict[int, Path]  # the job's frames by index
    paths: dict[int, Path]  # every frame a batch reads (the video's beyond the job's)
    faces: pd.DataFrame  # the kept faces in ``paths``, in frame order
    last: dict[int, int]  # each frame's last face (its position in ``faces``)
    batches: list[range]  # positions in ``faces`` of the batches holding a face of the job

    @property
    def unchanged(self) -> list[int]:
        """The job's frames without a kept face: written as the original files."""
        return [i for i in self.mine if i not in self.last]


def plan_convert(frame_paths: Sequence[Path], alignments: pd.DataFrame, *, batch_size: int,
                 video_frames: Sequence[Path] | None = None) -> ConvertPlan:
    """The plan of converting ``frame_paths`` of a video whose frames are
    ``video_frames`` (default ``frame_paths``)."""
    mine = {frame_index(p): p for p in frame_paths}
    paths = {frame_index(p): p for p in video_frames or ()} | mine
    faces = kept_faces(alignments)
    faces = faces[faces["frame"].isin(paths)].reset_index(drop=True)
    return ConvertPlan(mine, paths, faces, dict(zip(faces["frame"], faces.index)),
                       whole_batches(faces["frame"].isin(mine), batch_size))


def convert_frames(frame_paths: Sequence[Path], alignments: pd.DataFrame, model: Swapper,
                   out_dir: str | Path, *, cfg: Mapping[str, Any] | ConvertConfig | None = None,
                   frames: Mapping[str, Any] | FramesConfig | None = None,
                   patches_dir: str | Path | None = None, hands: pd.DataFrame | None = None,
                   video_frames: Sequence[Path] | None = None, outlines_path: str | Path | None = None
                   ) -> dict:
    """Write the converted frames to ``out_dir`` (atomically), with the quality
    that ``frames`` gives their format; return counts. Any frame range (a shard)
    gives exactly the frames of the whole: the model runs on whole batches of
    ``batch_size`` of the video's faces, reading the frames of a batch's faces
    beyond the range from ``video_frames`` (all the video's; default
    ``frame_paths``), and the ``reconstruction`` occlusion looks at
    neighbouring frames there. ``hands`` (rule hands' table) serves the ``hands``
    occlusion; without it the hands are tracked in ``video_frames`` first.
    With ``convert.patches`` the swapped face squares go to ``patches_dir``;
    ``outlines_path`` gets the edge of each face's final mask in frame pixels
    (a table of frame, face and ``outline``: flat x, y lists, one a contour)."""
    cfg, frames = from_mapping(ConvertConfig, cfg), from_mapping(FramesConfig, frames)
    if cfg.patches and patches_dir is None:
        raise ValueError("convert.patches needs a folder for the patches")
    if cfg.mask == "learned" and not model.predicts_mask:
        raise ValueError("convert.mask is 'learned' but the model predicts no mask; "
                         "use 'landmarks' or 'both', or a preset with a learned mask")
    plan = plan_convert(frame_paths, alignments, batch_size=cfg.batch_size, video_frames=video_frames)
    masks = FaceMasks(cfg, model, plan, hands)
    # reading and writing frames overlap the model and the blending (cv2 releases the GIL)
    with atomic_path(out_dir) as tmp, ThreadPoolExecutor(max_workers=2) as io:
        tmp.mkdir()
        written = [io.submit(_link, plan.mine[i], tmp / plan.mine[i].name) for i in plan.unchanged]
        bar = tqdm(total=len(frame_paths), initial=len(written), desc="convert", unit="frame",
                   mininterval=2.0)

        def done(i: int, image: np.ndarray) -> None:
            written.append(io.submit(write_frame, tmp / plan.mine[i].name, image, frames))
            bar.update(1)

        swapped = _swap_faces(plan, model, masks, cfg, io, done)
        for job in written:
            job.result()  # raises the first failed write
        bar.close()
    if patches_dir is not None:
        _write_patches(Path(patches_dir), swapped.patches)  # an empty folder unless convert.patches
    if outlines_path is not None:
        write_parquet(outlines_path, table(swapped.outlines, OUTLINE_COLUMNS))
    counts = {"frames": len(frame_paths), "swapped_frames": swapped.frames, "swapped_faces": swapped.faces}
    log.info("converted %(frames)d frames: %(swapped_faces)d faces swapped in "
             "%(swapped_frames)d frames, the rest copied unchanged", counts)
    return counts


class FaceMasks:
    """The masks convert blends a face with, from ``convert``'s settings: the
    landmark mask, the learned one, and what covers the face (hands, the
    reconstruction's occluders)."""

    def __init__(self, cfg: ConvertConfig, model: Swapper, plan: ConvertPlan,
                 hands: pd.DataFrame | None) -> None:
        self.cfg = cfg
        # occluders are looked for inside the landmark mask, whatever the blend's mask is
        self.landmark_mask = (make_mask(cfg.landmark_mask)
                              if cfg.mask != "learned" or set(cfg.occlusion) - {"hands"} else None)
        scene = Scene(model, plan.paths, plan.faces, list(plan.mine.values()), cfg.batch_size,
                      cfg.occlusion_min_area, hands)
        self.sources = make_sources(cfg.occlusion, cfg.sources, scene)

    def blend(self, row, box: tuple[int, int, int], crop: np.ndarray, learned: np.ndarray | None) -> np.ndarray:
        """The mask a face of ``row`` (its aligned ``crop``) is blended with, over the model's square ``box``."""
        whole = face_mask(row, box, crop, self.landmark_mask, learned, self.cfg)
        drawn = whole if self.landmark_mask is None else landmark_face(row, box, crop, self.landmark_mask)
        return blend_mask(whole, covered(self.sources, face_view(row, box, crop, drawn, learned)), self.cfg)


def face_view(row, box: tuple[int, int, int], crop: np.ndarray, landmark: np.ndarray,
              learned: np.ndarray | None) -> Face:
    """A face of the alignments (``row``, its aligned ``crop``) as the occlusion sources
    see it; ``landmark``: its landmark mask over the model's square ``box``."""
    matrix = face_matrix(row)
    points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), matrix) - box[:2]
    return Face(int(row.frame), int(row.face), crop, matrix, box, points, landmark, learned)


@dataclass
class Swapped:
    """What the loop made besides the frames: counts, patches and mask outlines."""

    frames: int = 0
    faces: int = 0
    patches: list = field(default_factory=list)
    outlines: list = field(default_factory=list)


def _swap_faces(plan: ConvertPlan, model: Swapper, masks: FaceMasks, cfg: ConvertConfig,
                io: ThreadPoolExecutor, done: Callable[[int, np.ndarray], None]) -> Swapped:
    """Run the plan's batches through the model and paste each face of the job's
    frames into its frame; ``done(i, image)`` takes frame ``i`` once its last face is in."""
    matcher = get_color_matcher(cfg.color)
    out = Swapped()
    originals: dict[int, np.ndarray] = {}
    outputs: dict[int, np.ndarray] = {}
    for batch in plan.batches:
        rows = list(plan.faces.iloc[batch].itertuples())
        new = sorted({row.frame for row in rows} - originals.keys())
        originals.update(zip(new, io.map(read_frame, [plan.paths[i] for i in new])))
        crops = np.stack([warp(originals[row.frame], face_matrix(row), int(row.size)) for row in rows])
        swapped, learned = model.swap(crops, to="a")
        box = model.coverage_box(crops.shape[1])
        for k, row in enumerate(rows):
            i = row.frame
            if i not in plan.mine:
                continue
            mask = masks.blend(row, box, crops[k], None if learned is None else learned[k])
            face = _prepare_face(swapped[k], crops[k], mask, box, matcher, cfg)
            if i not in outputs:  # a copy where a later batch still crops this frame's faces
                outputs[i] = originals[i] if plan.last[i] < batch.stop else originals[i].copy()
            _paste(outputs[i], face, mask, box, face_matrix(row), cfg.blend)
            out.outlines.append({"frame": i, "face": int(row.face),
                                 "outline": _outline(mask, box, face_matrix(row))})
            if cfg.patches:
                out.patches.append((i, row.face, face, face_matrix(row), box))
            out.faces += 1
            if row.Index == plan.last[i]:
                done(i, outputs.pop(i))
                out.frames += 1
        for i in [i for i in originals if plan.last[i] < batch.stop]:
            del originals[i]  # all its faces are done
    return out


def _link(source: Path, dest: Path) -> None:
    """``dest`` is ``source``'s file: a hard link, or a copy across file systems."""
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)


def face_mask(row, box: tuple[int, int, int], crop: np.ndarray, landmark_mask,
               learned: np.ndarray | None, cfg: ConvertConfig) -> np.ndarray:
    """Float mask in [0, 1] of the face over the model's square of the crop: ``convert.mask``'s
    choice of the landmark mask and the model's ``learned`` one (their minimum)."""
    side = box[2]
    masks = []
    if landmark_mask is not None and cfg.mask != "learned":
        masks.append(landmark_face(row, box, crop, landmark_mask))
    if learned is not None and cfg.mask != "landmarks":
        masks.append(cv2.resize(learned.astype(np.float32), (side, side)))
    return np.minimum.reduce(masks)


def landmark_face(row, box: tuple[int, int, int], crop: np.ndarray, landmark_mask) -> np.ndarray:
    """The landmark mask of the face of ``row`` (its aligned ``crop``) over the model's square, float in [0, 1]."""
    x0, y0, side = box
    points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), face_matrix(row))
    full = landmark_mask(points, crop.shape[0], crop).astype(np.float32) / 255
    return full[y0:y0 + side, x0:x0 + side]


def blend_mask(face: np.ndarray, covered: np.ndarray, cfg: ConvertConfig) -> np.ndarray:
    """What convert blends with: the ``face`` mask softened, less what is ``covered``,
    grown by twice the feather's sigma and then feathered, so the feathered edge
    lies on the face and every covered pixel stays as it was."""
    mask = soften(face, cfg)
    if not covered.any():
        return mask
    sigma = cfg.feather * face.shape[0]
    grow = int(round(2 * sigma))
    if grow:
        covered = cv2.dilate(covered, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        covered = np.maximum(covered, cv2.GaussianBlur(covered, (0, 0), sigma))
    return mask * (1 - np.clip(covered, 0, 1))


def soften(mask: np.ndarray, cfg: ConvertConfig) -> np.ndarray:
    """``mask`` eroded (or dilated) and feathered as ``convert`` says."""
    side = mask.shape[0]
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


def _outline(mask: np.ndarray, box: tuple[int, int, int], matrix: np.ndarray) -> list[list[float]]:
    """The edges of ``mask`` (over the model's square, above 0.5 inside) in frame pixels."""
    x0, y0, _ = box
    contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    inverse = cv2.invertAffineTransform(matrix)
    return [np.round(transform_points(c.reshape(-1, 2) + (x0, y0), inverse), 1).ravel().tolist()
            for c in contours]


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

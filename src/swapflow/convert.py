"""Put the swapped face into every frame: crop, run the model, paste back, blend.

For each kept face of the target video: crop it with its alignment matrix,
run it through the face identity's decoder, colour-match the result to the
face it replaces, and paste it back through the inverse transform
(swapflow.paste), blended with a feathered mask less what covers the face
(swapflow.blending, swapflow.occlusion). Frames without a kept face are the
original files (hard links where the file system allows, else copies). The
plan of a job (``plan_convert``) is decided before a frame is read.
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

import numpy as np
import pandas as pd
from tqdm import tqdm

from swapflow.alignments import face_matrix, kept_faces, table, whole_batches
from swapflow.blending import FaceMasks
from swapflow.color import get_color_matcher
from swapflow.frames import frame_index, read_frame, write_frame
from swapflow.geometry import warp
from swapflow.io import atomic_path, write_parquet
from swapflow.model_folder import check_identities
from swapflow.occlusion import Scene
from swapflow.paste import mask_outline, paste, prepare_face, write_patches
from swapflow.schema import from_mapping
from swapflow.settings import ConvertConfig, FramesConfig

log = logging.getLogger(__name__)
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
    from swapflow.train.model_io import load_model  # torch: only where a model runs

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
    masks = FaceMasks(cfg, Scene(model, plan.paths, plan.faces, list(plan.mine.values()), cfg.batch_size,
                                 cfg.occlusion_min_area, hands))
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
        write_patches(Path(patches_dir), swapped.patches)  # an empty folder unless convert.patches
    if outlines_path is not None:
        write_parquet(outlines_path, table(swapped.outlines, OUTLINE_COLUMNS))
    counts = {"frames": len(frame_paths), "swapped_frames": swapped.frames, "swapped_faces": swapped.faces}
    log.info("converted %(frames)d frames: %(swapped_faces)d faces swapped in "
             "%(swapped_frames)d frames, the rest copied unchanged", counts)
    return counts


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
            face = prepare_face(swapped[k], crops[k], mask, box, matcher, cfg)
            if i not in outputs:  # a copy where a later batch still crops this frame's faces
                outputs[i] = originals[i] if plan.last[i] < batch.stop else originals[i].copy()
            paste(outputs[i], face, mask, box, face_matrix(row), cfg.blend)
            out.outlines.append({"frame": i, "face": int(row.face),
                                 "outline": mask_outline(mask, box, face_matrix(row))})
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

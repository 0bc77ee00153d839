"""The pipeline's order and arithmetic, shared by the workflow, its scripts,
the tests and the benchmarks: which frames a shard job takes, and the
extraction of one video in the order its rules run (detect, align, mask,
faceset)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from swapflow.identity import Reference

T = TypeVar("T")


def shard_count(frames: int, size: int) -> int:
    """How many jobs of ``size`` frames a video of ``frames`` frames is cut into."""
    return math.ceil(frames / size)


def shard_frames(frames: Sequence[T], shard: int | str, size: int) -> Sequence[T]:
    """The frames of shard number ``shard`` (a wildcard's text too) of ``size`` frames."""
    start = int(shard) * size
    return frames[start:start + size]


@dataclass
class Extracted:
    frames: list[Path]
    raw: pd.DataFrame  # the detect table
    alignments: pd.DataFrame
    faceset: Path


def extract(frames: Sequence[Path], out: Path, detect: dict | None = None, align: dict | None = None,
            references: Sequence[Reference] = (), curate: dict | None = None,
            track: dict | None = None) -> Extracted:
    """Extract ``frames`` as rules detect, align (recovering lost faces with ``track``),
    mask and faceset do (with their default settings where none are given), into
    the faceset folder ``out`` (masks beside it), curated with ``curate``."""
    from swapflow.extract import align_faces, build_faceset, extract_frames, mask_frames  # the models
    from swapflow.mask import write_masks
    from swapflow.track import recover_faces

    raw = extract_frames(frames, detect or {})
    alignments = align_faces(recover_faces(raw, frames, detect or {}, track or {}), align or {}, references)
    masks = out.with_suffix(".npz")
    write_masks(masks, mask_frames(frames, alignments, {}))
    build_faceset(frames, alignments, masks, out, {}, curate)
    return Extracted(list(frames), raw, alignments, out)

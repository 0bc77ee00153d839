"""Whether A's faceset covers B's video: the pose and expression of the source's faces against the target's.

A target face is *covered* when at least ``min_faces`` of A's training faces
lie within ``radius`` degrees of its (yaw, pitch); roll does not count, the
aligned crop undoes it. When training flips faces (``data.flip``), it is shown
each face's mirror image too (yaw negated), so those count as A's faces. Where
A has no face near a pose the model has never been shown that pose, and that
is where a swap fails. Expressions are
compared as shares from the landmarks: lips apart (inner-lip gap over 10 % of
the mouth width: an open mouth or bared teeth) and eyes closed (eye aspect
ratio under 0.2, Soukupova and Cech 2016).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pandas as pd

from swapflow import alignments as al
from swapflow.anatomy import LEFT_EYE, RIGHT_EYE
from swapflow.faceset import load_faceset
from swapflow.io import atomic_path
from swapflow.settings import CoverageConfig

PathLike = str | os.PathLike
LIPS_APART = 0.1  # inner-lip gap / mouth width
EYES_CLOSED = 0.2  # eye aspect ratio
INNER_LIPS = ((61, 67), (62, 66), (63, 65))  # upper and lower inner-lip points facing each other
MOUTH_CORNERS = (48, 54)
CHUNK = 2048  # target faces compared with all source faces at once


def _distance(points: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(points[:, a] - points[:, b], axis=1)


def expressions(points: np.ndarray) -> pd.DataFrame:
    """``mouth_open`` and ``eyes_closed`` (bool) of each face's 68 landmarks (N, 68, 2)."""
    gap = np.mean([_distance(points, a, b) for a, b in INNER_LIPS], axis=0)

    def aspect(eye: np.ndarray) -> np.ndarray:
        p0, p1, p2, p3, p4, p5 = eye
        return (_distance(points, p1, p5) + _distance(points, p2, p4)) / (2 * _distance(points, p0, p3))

    return pd.DataFrame({
        "mouth_open": gap > LIPS_APART * _distance(points, *MOUTH_CORNERS),
        "eyes_closed": (aspect(LEFT_EYE) + aspect(RIGHT_EYE)) / 2 < EYES_CLOSED,
    })


def source_faces(faceset_dirs: Sequence[PathLike], mirror: bool = False) -> pd.DataFrame:
    """Yaw, pitch and expressions of the faces training sees (the curated facesets),
    with ``mirrored`` False; with ``mirror`` (training flips faces: ``data.flip``)
    each face again as its mirror image shows it, yaw negated, ``mirrored`` True."""
    parts = []
    for d in faceset_dirs:
        fs = load_faceset(d)
        parts.append(pd.concat([fs.index[["frame", "yaw", "pitch"]].reset_index(drop=True),
                                expressions(np.asarray(fs.landmarks, float))], axis=1))
    faces = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["frame", "yaw", "pitch", "mouth_open", "eyes_closed"])
    faces["mirrored"] = False
    if not mirror:
        return faces
    return pd.concat([faces, faces.assign(yaw=-faces["yaw"], mirrored=True)], ignore_index=True)


def target_faces(alignments: pd.DataFrame) -> pd.DataFrame:
    """Frame, face, yaw, pitch and expressions of the faces a swap replaces."""
    kept = al.kept_faces(alignments)
    return pd.concat([kept[["frame", "face", "yaw", "pitch"]],
                      expressions(al.aligned_landmarks(kept))], axis=1)


def pose_coverage(source: pd.DataFrame, targets: pd.DataFrame,
                  cfg: CoverageConfig) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(targets with ``neighbours``, ``nearest`` (degrees to the nearest source
    face) and ``covered``, figures): the share of target faces covered, the
    uncovered frames, the median nearest distance, and the expression shares
    of both sides."""
    src = source[["yaw", "pitch"]].to_numpy(float)
    tgt = targets[["yaw", "pitch"]].to_numpy(float)
    neighbours, nearest = np.zeros(len(tgt), int), np.full(len(tgt), np.inf)
    for i in range(0, len(tgt) if len(src) else 0, CHUNK):  # in chunks: long videos stay small in memory
        distance = np.linalg.norm(tgt[i:i + CHUNK, None] - src[None], axis=2)
        neighbours[i:i + CHUNK], nearest[i:i + CHUNK] = (distance <= cfg.radius).sum(1), distance.min(1)
    table = targets.assign(neighbours=neighbours, nearest=nearest.round(2), covered=neighbours >= cfg.min_faces)
    uncovered = table.loc[~table["covered"], "frame"]

    def share(faces: pd.DataFrame, column: str) -> float | None:
        return round(float(faces[column].mean()), 4) if len(faces) else None

    own = source[~source["mirrored"]]
    figures = {
        "source_faces": len(own), "mirrored": bool(len(own) < len(source)), "target_faces": len(targets),
        "pose_coverage": round(float(table["covered"].mean()), 4) if len(table) else None,
        "uncovered_faces": int(len(uncovered)),
        "uncovered_frames": sorted({int(f) for f in uncovered}),
        "nearest_median": round(float(np.median(nearest)), 2) if len(table) and len(src) else None,
        **{f"{c}_{side}": share(faces, c) for c in ("mouth_open", "eyes_closed")
           for side, faces in (("face", own), ("target", targets))},
    }
    return table, figures


def frame_ranges(frames: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"1-3, 7"``."""
    out: list[str] = []
    for f in frames:
        if out and int(out[-1].rpartition("-")[2]) == f - 1:
            out[-1] = f"{out[-1].partition('-')[0]}-{f}"
        else:
            out.append(str(f))
    return ", ".join(out)


def coverage_chart(source: pd.DataFrame, table: pd.DataFrame, figures: dict[str, Any],
                   names: tuple[str, str], cfg: CoverageConfig, out_png: PathLike) -> None:
    """Yaw x pitch of A's training faces (and their mirror images, lighter, when
    training flips) over B's target faces (uncovered ones in red), and the
    expression shares of both, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    face, target = names
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(10, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    mirrored = source["mirrored"].astype(bool)
    ax.scatter(source.loc[~mirrored, "yaw"], source.loc[~mirrored, "pitch"], s=8, c="tab:blue", alpha=0.4,
               label=f"{face} (training faces)")
    if mirrored.any():
        ax.scatter(source.loc[mirrored, "yaw"], source.loc[mirrored, "pitch"], s=8, c="tab:cyan", alpha=0.3,
                   label=f"{face} mirrored (data.flip)")
    covered = table[table["covered"]]
    ax.scatter(covered["yaw"], covered["pitch"], s=14, marker="x", c="tab:green", label=f"{target}: covered")
    missed = table[~table["covered"]]
    ax.scatter(missed["yaw"], missed["pitch"], s=18, marker="x", c="tab:red", label=f"{target}: not covered")
    share = figures["pose_coverage"]
    nearest = figures["nearest_median"]
    ax.set_title(f"pose coverage {'n/a' if share is None else f'{share:.0%}'} "
                 f"(≥{cfg.min_faces} faces within {cfg.radius:g}°"
                 f"{', mirror images counted' if figures.get('mirrored') else ''})"
                 + ("" if nearest is None else f"\nnearest {face} face: median {nearest:g}° away"), fontsize=10)
    ax.set_xlabel("yaw (degrees)")
    ax.set_ylabel("pitch (degrees)")
    ax.grid(alpha=0.3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=8, loc="best")
    labels = ["lips apart", "eyes closed"]
    x = np.arange(len(labels))
    for offset, side, name in ((-0.2, "face", face), (0.2, "target", target)):
        values = [figures[f"{c}_{side}"] or 0.0 for c in ("mouth_open", "eyes_closed")]
        bars.bar(x + offset, values, width=0.4, label=name)
    bars.set_xticks(x, labels)
    bars.set_ylim(0, 1)
    bars.set_ylabel("share of faces")
    bars.set_title("expressions")
    bars.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)

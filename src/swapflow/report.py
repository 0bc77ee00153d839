"""Pictures and pages of the workflow's report: the before/after strip of a
swapped video and the clip page that plays it."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from swapflow.geometry import transform_points
from swapflow.alignments import kept_faces
from swapflow.frames import Frames, matched, placeholder, spread, tile_grid, write_jpeg
from swapflow.io import atomic_path, scratch_folder
from swapflow.video.ffmpeg import VideoError, file_url, run

CLIP_SECONDS, CLIP_HEIGHT = 10, 480  # the report's excerpt of an output video


def clip_page(path: str | Path, out_html: str | Path) -> None:
    """An HTML page that plays the first CLIP_SECONDS of a video, at most
    CLIP_HEIGHT pixels high, embedded (so the report shows the swap moving)."""
    with scratch_folder(out_html) as work:
        clip = work / "clip.mp4"
        res = run(["-hide_banner", "-loglevel", "error", "-i", file_url(path), "-t", str(CLIP_SECONDS),
                   "-vf", f"scale=-2:'2*trunc(min({CLIP_HEIGHT},ih)/2)'", "-c:v", "libx264",
                   "-crf", "26", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                   "-movflags", "+faststart", file_url(clip)])
        if res.returncode != 0:
            raise VideoError(f"{path}: could not cut the report's clip: {res.stderr.strip()[-300:]}")
        data = base64.b64encode(clip.read_bytes()).decode("ascii")
    with atomic_path(out_html) as tmp:
        tmp.write_text(f'<!DOCTYPE html><html><body style="margin:0;background:#000">'
                       f'<video controls loop style="max-width:100%" '
                       f'src="data:video/mp4;base64,{data}"></video></body></html>\n',
                       encoding="utf-8")


def _square_crop(image: np.ndarray, row: Mapping[str, Any], scale: float, tile: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A ``tile`` x ``tile`` square around the face box, ``scale`` times its side, edges
    replicated, and the matrix from frame pixels to it."""
    cx, cy = (row["x0"] + row["x1"]) / 2, (row["y0"] + row["y1"]) / 2
    side = max(row["x1"] - row["x0"], row["y1"] - row["y0"]) * scale
    f = tile / max(side, 1.0)
    matrix = np.array([[f, 0, tile / 2 - f * cx], [0, f, tile / 2 - f * cy]], np.float64)
    return cv2.warpAffine(image, matrix, (tile, tile), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE), matrix


def before_after_strip(original_frames: Sequence[str | os.PathLike], output: Frames,
                       alignments: pd.DataFrame, out_jpg: str | os.PathLike, outlines: pd.DataFrame | None = None,
                       n: int = 6, tile: int = 224, scale: float = 1.6, columns: int = 3) -> None:
    """JPEG grid of ``n`` evenly spread frames with a kept face, each shown as a
    pair (before | after) cropped around the largest kept face (``scale`` x its
    box), ``columns`` pairs a row. No kept face gives one grey tile.
    ``original_frames`` and ``output`` as for ``evaluate_swap``; ``outlines``
    (convert's table of final mask edges) are drawn on the before half."""
    orig = matched(original_frames, output)
    kept = kept_faces(alignments)
    kept = kept[kept["frame"].isin(range(len(orig)))]
    area = (kept["x1"] - kept["x0"]) * (kept["y1"] - kept["y0"])
    largest = kept.loc[area.groupby(kept["frame"]).idxmax()] if len(kept) else kept
    pairs = []
    for r in largest.iloc[spread(len(largest), n)].to_dict("records"):
        halves = []
        edges = outlines[outlines["frame"] == r["frame"]]["outline"] if outlines is not None else []
        for label, source in (("before", orig), ("after", output)):
            img, matrix = _square_crop(source[r["frame"]], r, scale, tile)
            if label == "before":
                for contour in (c for face in edges for c in face):
                    points = transform_points(np.asarray(contour, np.float64).reshape(-1, 2), matrix)
                    cv2.polylines(img, [np.round(points).astype(np.int32)], True, (0, 255, 0), 1, cv2.LINE_AA)
            cv2.putText(img, f"{label} {int(r['frame'])}", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (255, 255, 255), 1, cv2.LINE_AA)
            halves.append(img)
        pair = np.hstack([halves[0], np.full((tile, 2, 3), 255, np.uint8), halves[1]])
        pairs.append(cv2.copyMakeBorder(pair, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
    write_jpeg(out_jpg, tile_grid(pairs or [placeholder(2 * tile, tile, "no swapped faces")], columns))

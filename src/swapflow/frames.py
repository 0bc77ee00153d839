"""Frame folders and the pictures swapflow writes: the one place that reads and
writes images.

A frame folder holds one file a frame, named by its index: ``000000.png``,
``000001.png``, ... (or ``.jpg``, see ``frames.format``); frames are RGB
uint8 arrays in memory. Contact sheets, strips and previews are JPEG grids
of tiles.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from swapflow import MAX_IMAGE_PIXELS
from swapflow.io import InputError, atomic_path, check_regular
from swapflow.settings import FramesConfig

PathLike = str | os.PathLike
DIGITS = 6  # frame names are zero-padded to this many digits (more past 999999)
FORMATS = ("png", "jpg")
PREVIEW_QUALITY = 90  # JPEG quality of sheets, strips and previews


def progress(items: Iterable, desc: str, total: int | None = None) -> tqdm:
    """``items`` with a progress bar in the log, counted in frames."""
    return tqdm(items, desc=desc, total=total, unit="frame", mininterval=2.0, dynamic_ncols=True)


def frame_name(index: int, fmt: str) -> str:
    return f"{index:0{DIGITS}d}.{fmt}"


def name_pattern(suffix: str) -> str:
    """ffmpeg's image2 pattern of frame names with ``suffix`` (``.png``)."""
    return f"%0{DIGITS}d{suffix}"


def frame_index(path: PathLike) -> int:
    """The frame number of a frame file: its stem as an integer."""
    return int(Path(path).stem)


def list_frames(folder: PathLike) -> list[Path]:
    """The frame files of a frame folder, in frame order."""
    frames = sorted((p for p in Path(folder).iterdir()
                     if p.suffix[1:] in FORMATS and p.stem.isdigit()), key=frame_index)
    if not frames:
        raise InputError(f"{folder}: no frames")
    return frames


TOO_LARGE = f"more than the {MAX_IMAGE_PIXELS / 1e6:.0f} million pixels swapflow reads; not decoded"


def read_image(path: PathLike) -> np.ndarray:
    """An image a user gives (a still of a folder, a reference still) as RGB
    uint8. InputError naming the file when it is no regular file (a FIFO would
    be waited on for ever), when its header declares more than
    ``MAX_IMAGE_PIXELS`` (nothing is decoded: a small file can declare a huge
    image), when it is cut short, or when it cannot be read. Pillow reads the
    header and checks the data; OpenCV decodes the pixels, as for frames."""
    check_regular(path)
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(f"{path}: declares {width}x{height} pixels, {TOO_LARGE}")
            image.load()
    except Image.DecompressionBombError as err:  # Pillow's own, larger limit, met at open
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        raise InputError(f"{path}: declares {int(pixels[1]) / 1e6 if pixels else float('nan'):.0f} "
                         f"million pixels, {TOO_LARGE}") from None
    except UnidentifiedImageError:
        pass  # a format Pillow does not know: OpenCV decides (and has the same pixel limit)
    except OSError as err:
        raise InputError(f"{path}: {'truncated' if 'truncated' in str(err).lower() else 'damaged'} "
                         f"image ({err})") from None
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 (any file: Pillow's ValueError for a 200 MB profile, ...)
        raise InputError(f"{path}: an image swapflow cannot read ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:160] if str(err) else ''})") from None
    try:
        return read_frame(path)
    except InputError as err:
        raise InputError(str(err) if TOO_LARGE in str(err) else f"{path}: not an image that can be read") from None


def read_frame(path: PathLike) -> np.ndarray:
    """RGB uint8 image; InputError naming the file if it cannot be decoded (also
    when OpenCV refuses it for its size, which it says in a C++ exception)."""
    try:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error as err:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(err):
            raise InputError(f"{path}: declares {TOO_LARGE}") from None
        raise InputError(f"{path}: frame cannot be read ({str(err).strip().splitlines()[-1][:160]})") from None
    if image is None:
        raise InputError(f"{path}: frame cannot be read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_params(cfg: FramesConfig) -> list[int]:
    """OpenCV's write parameters for the configured frame format and its quality."""
    if cfg.format == "png":
        return [cv2.IMWRITE_PNG_COMPRESSION, cfg.png_compression]
    # OpenCV's default 4:2:0 colour: what video sources hold (4:4:4 is a fifth slower to read)
    return [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]


def write_frame(path: PathLike, image_rgb: np.ndarray, cfg: FramesConfig) -> None:
    """Write a frame with the quality ``cfg`` gives its format (``path``'s suffix);
    OSError (with the system's reason) when it cannot be written."""
    ok, data = cv2.imencode(Path(path).suffix, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                            encode_params(cfg))
    if not ok:
        raise OSError(f"{path}: could not encode frame")
    Path(path).write_bytes(data.tobytes())


def write_jpeg(path: PathLike, image_rgb: np.ndarray) -> None:
    """A picture for people (sheet, strip, preview), written atomically."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])
    if not ok:
        raise OSError(f"{path}: could not encode the picture")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.tobytes())


def spread(count: int, n: int) -> np.ndarray:
    """At most ``n`` indices spread evenly over ``range(count)``, first and last included."""
    if count <= 0 or n <= 0:
        return np.zeros(0, int)
    return np.unique(np.linspace(0, count - 1, min(n, count)).round().astype(int))


def tile_grid(tiles: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """Equal-sized tiles in rows of ``columns``, the last row filled with black."""
    columns = min(columns, len(tiles))
    tiles = list(tiles) + [np.zeros_like(tiles[0])] * (-len(tiles) % columns)
    return np.vstack([np.hstack(tiles[r:r + columns]) for r in range(0, len(tiles), columns)])


def sheet_tile(image: np.ndarray, tile: int, label: str) -> np.ndarray:
    """``image`` shrunk to a ``tile`` x ``tile`` square of a contact sheet, ``label`` in its corner."""
    out = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
    cv2.putText(out, label, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return out


def outline(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (0, 255, 0)) -> np.ndarray:
    """``image`` with the edge of ``mask`` (same size; above 0.5 inside) drawn on it."""
    out = np.ascontiguousarray(image).copy()
    contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, colour, max(1, image.shape[0] // 128))
    return out


def placeholder(width: int, height: int, text: str) -> np.ndarray:
    """A grey tile reading ``text``: what a sheet shows when it has nothing to show."""
    tile = np.full((height, width, 3), 128, np.uint8)
    cv2.putText(tile, text, (8, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    return tile


class Frames(Protocol):
    """Frames by number: ``frames[i]`` is frame ``i`` as RGB uint8 (H, W, 3)
    (``swapflow.video.read.VideoFrames``, ``FrameFiles``)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> np.ndarray: ...


class FrameFiles:
    """Frame files (as split writes them) by frame number; ``frames[i]`` reads frame ``i``."""

    def __init__(self, paths: Sequence[PathLike]) -> None:
        self.paths = {frame_index(p): Path(p) for p in paths}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> np.ndarray:
        return read_frame(self.paths[index])


def matched(original_frames: Sequence[PathLike], output: Frames) -> FrameFiles:
    """The original frames, checked to be numbered 0.. with one per output frame."""
    orig = FrameFiles(original_frames)
    if sorted(orig.paths) != list(range(len(output))):
        raise ValueError(f"{len(orig)} original frames (numbers {min(orig.paths, default=None)} to "
                         f"{max(orig.paths, default=None)}) do not match the {len(output)} frames "
                         "of the output, numbered from 0")
    return orig

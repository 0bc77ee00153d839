"""Putting a swapped face back: resized, sharpened and colour-matched, warped into its frame through the mask; the mask's outline; the face squares for compositing elsewhere."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from swapflow.geometry import transform_points
from swapflow.io import atomic_path, write_json
from swapflow.settings import ConvertConfig

POISSON_MIN_PIXELS = 64  # a smaller mask is alpha-blended: seamlessClone needs an inside


def prepare_face(swapped: np.ndarray, crop: np.ndarray, mask: np.ndarray,
                 box: tuple[int, int, int], matcher, cfg: ConvertConfig) -> np.ndarray:
    """The swapped face at the size of the model's square ``box`` of ``crop``, sharpened
    as ``convert.sharpen`` says, colour-matched to the face it replaces inside ``mask``."""
    x0, y0, side = box
    face = cv2.resize(swapped, (side, side), interpolation=cv2.INTER_CUBIC)
    if cfg.sharpen:
        blurred = cv2.GaussianBlur(face, (0, 0), max(1.0, side / 128))
        face = cv2.addWeighted(face, 1 + cfg.sharpen, blurred, -cfg.sharpen, 0)
    return matcher(face, crop[y0:y0 + side, x0:x0 + side], mask)


def mask_outline(mask: np.ndarray, box: tuple[int, int, int], matrix: np.ndarray) -> list[list[float]]:
    """The edges of ``mask`` (over the model's square, above 0.5 inside) in frame pixels."""
    x0, y0, _ = box
    contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    inverse = cv2.invertAffineTransform(matrix)
    return [np.round(transform_points(c.reshape(-1, 2) + (x0, y0), inverse), 1).ravel().tolist()
            for c in contours]


def paste(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, box: tuple[int, int, int],
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


def write_patches(folder: Path, patches: list) -> None:
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

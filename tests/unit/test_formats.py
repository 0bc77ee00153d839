"""The on-disk formats, each owned by one module: frames, model folder."""

from __future__ import annotations

import numpy as np
import pytest

from swapflow import model_folder
from swapflow.frames import frame_name, read_frame, spread, tile_grid, write_frame
from swapflow.io import InputError
from swapflow.settings import FramesConfig


def test_frames_are_written_with_their_format_and_quality(man_frames, tmp_path):
    image = read_frame(man_frames[0])
    sizes = {}
    for fmt, key, values in (("jpg", "jpeg_quality", (50, 95)), ("png", "png_compression", (0, 9))):
        for value in values:
            path = tmp_path / f"{value}" / frame_name(7, fmt)
            path.parent.mkdir(exist_ok=True)
            write_frame(path, image, FramesConfig(format=fmt, **{key: value}))
            sizes[fmt, value] = path.stat().st_size
            back = read_frame(path)
            assert back.shape == image.shape
            assert np.abs(back.astype(int) - image).mean() < (4 if fmt == "jpg" else 1e-9)
    assert sizes["jpg", 50] < 0.7 * sizes["jpg", 95] and sizes["png", 9] < 0.8 * sizes["png", 0]
    with pytest.raises(OSError, match="No such file or directory.*000000.png"):
        write_frame(tmp_path / "missing" / "000000.png", image, FramesConfig())


def test_spread_and_grid():
    assert list(spread(10, 4)) == [0, 3, 6, 9] and list(spread(3, 8)) == [0, 1, 2]
    assert len(spread(0, 5)) == len(spread(5, 0)) == 0
    tiles = [np.full((2, 3, 3), i, np.uint8) for i in range(1, 6)]
    grid = tile_grid(tiles, 2)
    assert grid.shape == (6, 6, 3) and grid[4, 3, 0] == 0 and grid[4, 0, 0] == 5
    assert tile_grid(tiles[:1], 8).shape == (2, 3, 3)


def test_model_folder_refuses_other_identities_and_missing_models(tmp_path):
    with pytest.raises(InputError, match=f"{tmp_path}: no trained model here"):
        model_folder.read_manifest(tmp_path)
    model_folder.write_manifest(tmp_path, {"identities": {"a": "woman", "b": "man"}})
    model_folder.check_identities(tmp_path, "woman", "man")
    with pytest.raises(InputError, match="trained to put woman on man, but this swap puts man on woman"):
        model_folder.check_identities(tmp_path, "man", "woman")

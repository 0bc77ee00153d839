import numpy as np
import pandas as pd

from swapflow.extract import ALIGN_COLUMNS, align_frames, build_faceset, detect_frames, mask_frames, write_masks
from swapflow.faceset import contact_sheet, load_faceset


def test_faceset_round_trip(man_frames, tmp_path):
    frames = man_frames[::6]
    table = align_frames(frames, detect_frames(frames, {}))
    write_masks(tmp_path / "m.npz", mask_frames(frames, table, {}))
    build_faceset(frames, table, tmp_path / "m.npz", tmp_path / "fs", {"faceset_mask": "extended"})
    fs = load_faceset(tmp_path / "fs")
    n = len(table)
    assert isinstance(fs.faces, np.memmap) and fs.faces.shape == (n, 256, 256, 3) and fs.faces.dtype == np.uint8
    assert fs.masks.shape == (n, 256, 256) and fs.landmarks.shape == (n, 68, 2) and fs.landmarks.dtype == np.float32
    assert list(fs.index["frame"]) == list(table["frame"])
    assert fs.faces[:, 100:150, 100:150].std() > 5  # real pixels, not zeros
    assert (fs.landmarks > 0).all() and (fs.landmarks < 256).all()
    contact_sheet(tmp_path / "fs", tmp_path / "sheet.jpg", n=8)
    assert (tmp_path / "sheet.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert not list(tmp_path.glob(".*tmp*"))


def test_empty_faceset(tmp_path):
    table = pd.DataFrame({c: pd.Series(dtype=t) for c, t in ALIGN_COLUMNS.items()})
    write_masks(tmp_path / "m.npz", mask_frames([], table, {}))
    build_faceset([], table, tmp_path / "m.npz", tmp_path / "fs", {})
    assert len(load_faceset(tmp_path / "fs")) == 0
    contact_sheet(tmp_path / "fs", tmp_path / "sheet.jpg")
    assert (tmp_path / "sheet.jpg").exists()

import numpy as np

from swapflow.alignments import ALIGN_COLUMNS, table
from swapflow.anatomy import POINTS
from swapflow.extract import build_faceset, mask_frames
from swapflow.mask import write_masks
from swapflow.faceset import contact_sheet, load_faceset
from swapflow.frames import read_frame


def test_faceset_round_trip(man, tmp_path):
    fs = load_faceset(man.faceset)
    n = len(man.alignments)
    assert n == len(man.frames)
    assert isinstance(fs.faces, np.memmap) and fs.faces.shape == (n, 256, 256, 3) and fs.faces.dtype == np.uint8
    assert fs.masks.shape == (n, 256, 256) and fs.landmarks.shape == (n, POINTS, 2)
    assert fs.landmarks.dtype == np.float32
    assert list(fs.index["frame"]) == list(man.alignments["frame"])
    assert fs.faces[:, 100:150, 100:150].std() > 5  # real pixels, not zeros
    assert (fs.landmarks > 0).all() and (fs.landmarks < 256).all()
    contact_sheet(man.faceset, tmp_path / "sheet.jpg", n=8)
    sheet = read_frame(tmp_path / "sheet.jpg")
    assert sheet.shape == (128, 8 * 128, 3)
    # the mask outline is drawn in red over the faces
    assert ((sheet[..., 0] > 180) & (sheet[..., 1] < 80) & (sheet[..., 2] < 80)).sum() > 100
    assert not list(man.faceset.parent.glob(".*tmp*"))


def test_empty_faceset(tmp_path):
    empty = table([], ALIGN_COLUMNS)
    write_masks(tmp_path / "m.npz", mask_frames([], empty, {}))
    build_faceset([], empty, tmp_path / "m.npz", tmp_path / "fs", {})
    assert len(load_faceset(tmp_path / "fs")) == 0
    contact_sheet(tmp_path / "fs", tmp_path / "sheet.jpg")
    assert read_frame(tmp_path / "sheet.jpg").shape == (128, 128, 3)

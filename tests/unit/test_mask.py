import numpy as np
import pytest

from swapflow.geometry import warp
from swapflow.anatomy import POINTS
from swapflow.extract import mask_frames
from swapflow.mask import read_masks, write_masks
from swapflow.frames import read_frame
from swapflow.mask import make_mask


@pytest.fixture(scope="module")
def aligned(man):
    frames = man.frames[::12]
    return frames, man.alignments[man.alignments["frame"].isin(range(0, len(man.frames), 12))]


def test_masks_per_type(aligned, tmp_path):
    frames, table = aligned
    masks = mask_frames(frames, table, {"types": ["components", "extended", "mesh"]})
    n = len(table)
    assert n == len(frames)
    for t in ("components", "extended", "mesh"):
        assert masks[t].shape == (n, 256, 256) and masks[t].dtype == np.uint8
        assert set(np.unique(masks[t])) == {0, 255}
    comp, ext, mesh = (masks[t] > 0 for t in ("components", "extended", "mesh"))
    assert (ext | comp).sum() == ext.sum() and ext.sum() > 1.1 * comp.sum()  # extended covers components + forehead
    iou = (comp & mesh).sum() / (comp | mesh).sum()
    assert iou > 0.75
    write_masks(tmp_path / "m.npz", masks)
    back = read_masks(tmp_path / "m.npz")
    assert np.array_equal(back["extended"], masks["extended"]) and list(back["frame"]) == list(table["frame"])
    assert back["matrix"].shape == (n, 2, 3)


def test_mesh_mask_on_crop(aligned):
    frames, table = aligned
    row = table.iloc[0]
    crop = warp(read_frame(frames[0]), np.array(row["matrix"]).reshape(2, 3), 256)
    mask = make_mask("mesh")(np.zeros((POINTS, 2)), 256, crop)
    assert 0.3 < (mask > 0).mean() < 0.9 and mask[128, 128] == 255
    with pytest.raises(ValueError):
        make_mask("xseg")

"""Colour matchers on real face crops from the demo clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from swapflow.video.split import split
from swapflow.color import COLOR_MATCHERS, get_color_matcher
from swapflow.frames import list_frames


@pytest.fixture(scope="module")
def faces(demo_dir, tmp_path_factory):
    """The centre of a frame of each demo clip, as (swapped, original)."""
    crops = []
    for name in ("single_face.mp4", "WolfgangLanger_Pexels.mp4"):
        out = tmp_path_factory.mktemp("color") / "frames"
        split(demo_dir / name, out, out.with_suffix(".json"))
        frame = cv2.cvtColor(cv2.imread(str(list_frames(out)[0])), cv2.COLOR_BGR2RGB)
        crops.append(np.ascontiguousarray(frame[80:280, 220:420]))
    mask = np.zeros(crops[0].shape[:2], np.float32)
    cv2.circle(mask, (100, 100), 80, 1.0, -1)
    return crops[0], crops[1], mask


def masked_mean(image, mask):
    return image[mask > 0.5].astype(float).mean(0)


@pytest.mark.parametrize("name", ["average", "rct", "histogram"])
def test_matcher_moves_colour_towards_the_original(faces, name):
    swapped, original, mask = faces
    out = get_color_matcher(name)(swapped, original, mask)
    before = np.abs(masked_mean(swapped, mask) - masked_mean(original, mask)).sum()
    after = np.abs(masked_mean(out, mask) - masked_mean(original, mask)).sum()
    assert out.dtype == np.uint8 and out.shape == swapped.shape
    assert after < before / 3, f"{name}: colour distance {before:.1f} -> {after:.1f}"


def test_none_changes_nothing_and_unknown_names_are_listed(faces):
    swapped, original, mask = faces
    assert get_color_matcher("none")(swapped, original, mask) is swapped
    with pytest.raises(ValueError, match=", ".join(COLOR_MATCHERS.names)):
        get_color_matcher("sepia")

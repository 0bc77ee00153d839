"""Fixtures of demo faces for the library and integration tests: demo clips split into
frames once, and facesets extracted from them once, the way the workflow does."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapflow.video.split import split
from swapflow.curate import KEEP_ALL
from swapflow.frames import list_frames
from swapflow.pipeline import Extracted, extract


def _split(clip: Path, out: Path) -> list[Path]:
    split(clip, out, out.with_suffix(".json"))
    return list_frames(out)


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> Path:
    return demo_dir


@pytest.fixture(scope="session")
def man_frames(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """single_face.mp4: one man, 72 frames."""
    return _split(demo / "single_face.mp4", tmp_path_factory.mktemp("frames") / "man")


@pytest.fixture(scope="session")
def woman_frames(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """WolfgangLanger_Pexels.mp4: one woman, 472 frames, hands over the face."""
    return _split(demo / "WolfgangLanger_Pexels.mp4", tmp_path_factory.mktemp("frames") / "woman")


@pytest.fixture(scope="session")
def cartoon_frames(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The cartoon part (frames 0-89) of noface_face.mov: no face."""
    return _split(demo / "noface_face.mov", tmp_path_factory.mktemp("frames") / "noface")[:90]


@pytest.fixture(scope="session")
def man(man_frames, tmp_path_factory) -> Extracted:
    """The man's first 36 frames (consecutive, one face each), extracted; every
    face in the faceset (tests of curation curate these)."""
    return extract(man_frames[:36], tmp_path_factory.mktemp("facesets") / "man", curate=KEEP_ALL)


@pytest.fixture(scope="session")
def woman(woman_frames, tmp_path_factory) -> Extracted:
    """Every 8th frame of the woman (59 frames), extracted."""
    return extract(woman_frames[::8], tmp_path_factory.mktemp("facesets") / "woman", curate=KEEP_ALL)


@pytest.fixture(scope="session")
def facesets(woman, man) -> tuple[Path, Path]:
    """(woman, man): their facesets, 59 and 36 faces."""
    return woman.faceset, man.faceset

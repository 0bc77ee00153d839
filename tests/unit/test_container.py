"""The container recipes (Dockerfile, workflow/container/swapflow.def): they agree
with each other, and their install steps give an environment with pyproject's
pins that imports.

The slow test runs the recipe's install steps (workflow/container/install.sh,
with the files its COPY lines bring) into a fresh venv: what `docker build`
does after the system packages, without a container engine. Torch comes from
$SWAPFLOW_TORCH_INDEX_URL if set, else from the recipe's default index if it
answers, else from pip's own indexes ("pypi"; on Linux PyPI's torch is a CUDA
build, several GB).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DEFFILE = REPO / "workflow" / "container" / "swapflow.def"
IMAGE_SRC = "/opt/swapflow/src"  # where the recipes put the project
INSTALL_STEP = re.compile(r"install\.sh\s+(\w+)\s+(\S+)")


def joined(text: str) -> str:
    """The recipe with continued lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\\\n", " ", "\n".join(lines))


def docker_arg(name: str) -> str:
    return re.search(rf"^ARG {name}=(\S+)", joined(DOCKERFILE.read_text()), re.M)[1]


def def_section(name: str) -> str:
    """The body of one %section of the Apptainer definition."""
    text = DEFFILE.read_text()
    return re.search(rf"^%{name}\n(.*?)(?=^%|\Z)", text, re.M | re.S)[1]


def apt_packages(text: str) -> list[str]:
    found = re.findall(r"apt-get install\s+-y\s+--no-install-recommends\s+([^&\n]+)", joined(text))
    return sorted(pkg for line in found for pkg in line.split())


def pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(dep.split("==") for dep in deps)


def test_recipes_agree():
    """One base image (a full x.y.z tag of Python 3.11), one torch index, the same
    system packages and the same install steps in both recipes."""
    docker, definition = DOCKERFILE.read_text(), DEFFILE.read_text()
    base = docker_arg("PYTHON_IMAGE")
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    assert re.search(r"^From:\s*(\S+)", definition, re.M)[1] == base
    index = docker_arg("TORCH_INDEX_URL")
    assert f"TORCH_INDEX_URL={index}" in def_section("arguments").split()
    assert apt_packages(docker) == apt_packages(definition) != []
    steps = INSTALL_STEP.findall(joined(docker))
    assert steps == [("deps", IMAGE_SRC), ("project", IMAGE_SRC)]
    assert INSTALL_STEP.findall(def_section("post")) == steps
    # the .def's %files bring what the Dockerfile's COPY lines bring
    copied = {dest for _, dest in copies()}
    files = {line.split()[1] for line in def_section("files").strip().splitlines()}
    assert files == copied


def test_image_names_agree_and_none_is_assumed_published():
    """docs/container.md, both recipes and the catalog name the image the same way, by the
    release's version (swapflow:<version>, swapflow-<version>.sif); the Snakefile
    names only what the user sets in SWAPFLOW_IMAGE, never a registry's image."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    texts = {"docs/container.md": (REPO / "docs/container.md").read_text(),
             "Dockerfile": DOCKERFILE.read_text(), "swapflow.def": DEFFILE.read_text()}
    for name, text in texts.items():
        tags = set(re.findall(r"swapflow[:-](\d+\.\d+\.\d+)", text))
        assert tags == {version}, (name, tags)
        assert "ghcr.io" not in text and "OWNER" not in text, name
    assert re.search(rf"\bSWAPFLOW_IMAGE=\S*swapflow-{re.escape(version)}\.sif", texts["docs/container.md"])
    snakefile = (REPO / "workflow/Snakefile").read_text()
    (named,) = re.findall(r"^\s*containerized:\s*(.+)$", snakefile, re.M)
    assert named.strip() == "IMAGE" and 'IMAGE = os.environ.get("SWAPFLOW_IMAGE")' in snakefile
    catalog = (REPO / ".snakemake-workflow-catalog.yml").read_text()
    assert re.search(r"^\s*apptainer: false", catalog, re.M) and "SWAPFLOW_IMAGE" in catalog


def copies() -> list[tuple[Path, str]]:
    """(source in the repo, destination in the image) of the Dockerfile's COPY
    lines; a destination ending in / is a folder that keeps the source's name."""
    pairs = []
    for line in joined(DOCKERFILE.read_text()).splitlines():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            for source in sources:
                target = dest + Path(source).name if dest.endswith("/") else dest
                pairs.append((REPO / source, target))
    return pairs


def torch_index() -> str:
    """The index the slow test installs torch from (see the module docstring)."""
    if os.environ.get("SWAPFLOW_TORCH_INDEX_URL"):
        return os.environ["SWAPFLOW_TORCH_INDEX_URL"]
    index = docker_arg("TORCH_INDEX_URL")
    try:
        urllib.request.urlopen(f"{index}/torch/", timeout=10).close()
        return index
    except OSError:
        return "pypi"


CHECK = """
import json, subprocess, sys
from importlib import metadata
import swapflow, torch, mediapipe, dlib, cv2, imageio_ffmpeg
ffmpeg = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-version"],
                        capture_output=True, text=True, check=True).stdout.splitlines()[0]
print(json.dumps({"versions": {name: metadata.version(name) for name in sys.argv[1:]},
                  "swapflow": swapflow.__file__, "ffmpeg": ffmpeg, "python": sys.version}))
"""


@pytest.mark.slow
def test_install_steps_in_fresh_venv(tmp_path):
    """The recipe's install steps, run as `docker build` runs them but into a venv:
    the five big imports work and every installed version is pyproject's pin."""
    src = tmp_path / "image" / IMAGE_SRC.lstrip("/")
    for source, dest in copies():
        assert dest.startswith(IMAGE_SRC + "/"), dest
        target = src / dest[len(IMAGE_SRC) + 1:]
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= {"PYTHON": str(python), "TORCH_INDEX_URL": torch_index()}
    start = time.monotonic()
    for step, _ in INSTALL_STEP.findall(joined(DOCKERFILE.read_text())):
        res = subprocess.run(["sh", str(src / "workflow/container/install.sh"), step, str(src)],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
        assert res.returncode == 0, f"install.sh {step} failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    print(f"install steps: {time.monotonic() - start:.0f} s, torch from {env['TORCH_INDEX_URL']}")

    want = pins()
    res = subprocess.run([python, "-c", CHECK, "swapflow", *want], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout.splitlines()[-1])
    # a local label (2.13.0+cpu, +cu126) is the same release as the pin
    have = {name: version.split("+")[0] for name, version in found["versions"].items()}
    assert {name: have[name] for name in want} == want
    assert Path(found["swapflow"]).is_relative_to(venv), found["swapflow"]  # installed, not the checkout
    assert found["python"].startswith("3.11.")
    assert found["ffmpeg"].startswith("ffmpeg version")
    assert (venv / "swapflow-freeze.txt").read_text().count("==") >= len(want)

# swapflow's software in one image, for clusters where conda is not an option:
# Snakemake runs every job in it with `--sdm apptainer` and SWAPFLOW_IMAGE naming
# it (docs/container.md). No image is published; build from the
# repository root at a release tag, CPU or CUDA torch, and make a .sif of it:
#
#   docker build --label org.opencontainers.image.revision=$(git rev-parse HEAD) \
#       -t swapflow:0.1.0 .
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu12X \
#       -t swapflow:0.1.0-cu12X .
#   apptainer build swapflow-0.1.0.sif docker-daemon://swapflow:0.1.0
#
# cu12X: a CUDA 12 index that PyTorch's install page lists for the torch pin
# (the GPU nodes' driver must support that CUDA); TORCH_INDEX_URL=pypi takes
# PyPI's Linux wheel instead, a CUDA 13 build (driver 580 or newer).
# podman and buildah take the same arguments. workflow/container/swapflow.def is
# the same recipe for `apptainer build`; tests/unit/test_container.py checks that
# the two agree and runs their install steps into a fresh venv.

# A pinned tag; for a bit-for-bit base pin its digest: python:3.11.14-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE}

# where torch==<pyproject's pin> comes from: .../whl/cpu, .../whl/cu12X, or "pypi"
# (PyPI's Linux wheel, CUDA 13); see workflow/container/install.sh
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

LABEL org.opencontainers.image.title="swapflow" \
      org.opencontainers.image.description="swapflow's Python packages (pinned in pyproject.toml) for snakemake --sdm apptainer" \
      org.opencontainers.image.licenses="MIT" \
      io.github.swapflow.torch-index-url="${TORCH_INDEX_URL}"

# libGL and GLib: opencv-contrib-python's cv2 links its bundled Qt, which needs
# both at import. Nothing else: the wheels bundle their libraries (mediapipe its
# EGL/GLES, torch its CUDA), and imageio-ffmpeg brings an ffmpeg binary that
# needs only glibc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

# `python` on PATH is the venv's: Snakemake runs a rule's script with the
# container's `python`. No user site: apptainer makes the project folder $HOME.
ENV VIRTUAL_ENV=/opt/swapflow \
    PATH=/opt/swapflow/bin:$PATH \
    PYTHONNOUSERSITE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/swapflow

# the dependencies first, in their own layer: a change to src/ reuses it
COPY pyproject.toml /opt/swapflow/src/
COPY workflow/container/install.sh /opt/swapflow/src/workflow/container/
RUN TORCH_INDEX_URL="$TORCH_INDEX_URL" sh /opt/swapflow/src/workflow/container/install.sh deps /opt/swapflow/src

COPY README.md /opt/swapflow/src/
COPY src /opt/swapflow/src/src
RUN sh /opt/swapflow/src/workflow/container/install.sh project /opt/swapflow/src \
 && python -c "import swapflow, torch, mediapipe, dlib, cv2"

CMD ["python"]

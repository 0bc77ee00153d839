#!/bin/sh
# Install swapflow and the pins of its pyproject.toml with pip, into the Python
# environment of $PYTHON (default: the python3 on PATH, which in the image is the
# venv /opt/swapflow). The container recipes (Dockerfile, workflow/container/
# swapflow.def) run it, and so does tests/unit/test_container.py, into a fresh venv.
#
#   sh install.sh deps SRC      torch from $TORCH_INDEX_URL, then every pin in SRC/pyproject.toml
#   sh install.sh project SRC   the project in SRC itself (its dependencies are in already)
#
# Two steps so that an image rebuilt after a change to src/ reuses the layer with
# the dependencies (gigabytes with a CUDA torch).
#
# TORCH_INDEX_URL: where the pinned torch comes from.
#   https://download.pytorch.org/whl/cpu      the CPU build (default)
#   https://download.pytorch.org/whl/cu12X    a CUDA 12.X build (the index PyTorch lists for the pin)
#   pypi                                      pip's own indexes: PyPI's Linux wheel (CUDA 13),
#                                             or what pip.conf points at
set -eu

PYTHON=${PYTHON:-python3}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
step=${1:?usage: install.sh deps|project SRC}
src=${2:?usage: install.sh deps|project SRC}

# pyproject's [project] dependencies, one per line (tomllib: Python 3.11+)
pins() {
    "$PYTHON" - "$src/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
}

case $step in
deps)
    torch=$(pins | grep '^torch==')
    if [ "$TORCH_INDEX_URL" = pypi ]; then
        "$PYTHON" -m pip install "$torch"
    else
        "$PYTHON" -m pip install "$torch" --index-url "$TORCH_INDEX_URL"
    fi
    reqs=$(mktemp)
    pins > "$reqs"
    # the torch installed above satisfies the pin (a local label such as +cpu matches ==)
    "$PYTHON" -m pip install -r "$reqs"
    rm -f "$reqs"
    ;;
project)
    "$PYTHON" -m pip install --no-deps "$src"
    # what the environment holds, for the record (next to the interpreter)
    prefix=$("$PYTHON" -c 'import sys; print(sys.prefix)')
    "$PYTHON" -m pip freeze > "$prefix/swapflow-freeze.txt"
    "$PYTHON" -m pip check
    ;;
*)
    echo "install.sh: unknown step '$step' (deps or project)" >&2
    exit 2
    ;;
esac

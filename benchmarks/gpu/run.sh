#!/usr/bin/env bash
# The GPU kit's one command, run from the repository root on the device machine:
#   bash benchmarks/gpu/run.sh
# Installs the kit's wheels into a scratch folder, runs benchmarks/gpu/run.py on
# gpu-kit/ and writes results.json, <preset>.tar and log.txt into $OUT (a
# temporary folder when OUT is unset). RUN_ARGS passes options to run.py (the
# CPU check: RUN_ARGS="--seconds 5 5 --speed-iterations 2 --warmup 1").
set -euo pipefail
PY=${PYTHON:-python3}
KIT=${KIT:-gpu-kit}
OUT=${OUT:-$(mktemp -d)}
site=$(mktemp -d)
"$PY" -m pip install --quiet --no-index --no-deps --target "$site" "$KIT"/wheels/*.whl
export PYTHONPATH="$PWD/src:$PWD/benchmarks/gpu:$site" PYTHONUNBUFFERED=1
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
# shellcheck disable=SC2086
"$PY" benchmarks/gpu/run.py --kit "$KIT" --out "$OUT" ${RUN_ARGS:-} 2>&1 | tee "$OUT/log.txt"
echo "results in $OUT"

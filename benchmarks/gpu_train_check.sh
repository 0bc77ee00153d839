#!/usr/bin/env bash
# GPU training check (< 8 minutes on one H100/H200): trains `original` and
# `dfaker128` a fixed number of iterations with and without autocast,
# channels_last and torch.compile; prints samples/s, data stall and peak GPU
# memory per variant. Needs the demo clips in resources/demo (or pass
# facesets: FACESET_A=... FACESET_B=...). Run from the repository root.
set -euo pipefail
PY=${PYTHON:-python}
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0), torch.__version__)"
args=(--matrix --device cuda --presets original dfaker128 --batch-size "${BATCH:-64}"
      --iterations "${ITERATIONS:-30}" --warmup 5 --threads "$(nproc)")
if [[ -n "${FACESET_A:-}" ]]; then args+=(--faceset-a "$FACESET_A" --faceset-b "$FACESET_B"); fi
timeout 450 "$PY" benchmarks/train_bench.py "${args[@]}"

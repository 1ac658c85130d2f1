#!/usr/bin/env bash
# The GPU measurements of 2026-12-04 (one device call): the GPU tests, `train --device cuda` on the fast
# path (epoch times, 5 seeds of the default recipe), the 2-epoch fixed-budget search and track, and where
# the fast path's epoch goes (kernel table, several steps per graph, compile). JSON and logs go to $OUT.
set -u
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lenetlab-gpu}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,utilization.gpu --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print(torch.__version__, torch.version.cuda)" | tee -a "$OUT/gpu.txt"
step() { echo "== $1 ($(date +%T))"; }
step tests; timeout 120 python3 -m pytest -q -p no:cacheprovider -m "gpu or unit" tests/test_engine.py tests/test_fast_fit.py -x 2>&1 | tail -15
step train; timeout 120 python3 scripts/gpu_train_check.py --out "$OUT/train-check.json" 2>&1 | tail -12
step profile; timeout 100 python3 scripts/gpu_profile.py --out "$OUT/profile.json" > "$OUT/profile.log" 2>&1; grep -E "^K=|^compile" "$OUT/profile.log"
step budget; timeout 180 python3 scripts/budget_search.py --out "$OUT/budget-search.json" 2> "$OUT/budget-search.log" | tail -3
step end

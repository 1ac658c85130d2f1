#!/usr/bin/env bash
# The GPU measurements of `--fuse` (2026-12-04, one device call): its tests, the fast path's epoch at
# bench's batch 256 fused and not (scripts/gpu_fused.py), `lenetlab bench` itself with and without it,
# and the speedrun with and without it. JSON and logs go to $OUT.
set -u
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lenetlab-gpu}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,utilization.gpu --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, triton; print(torch.__version__, torch.version.cuda, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"
step() { echo "== $1 ($(date +%T))"; }
step tests; timeout 150 python3 -m pytest -q -p no:cacheprovider -m "gpu or unit" tests/test_fused.py tests/test_engine.py tests/test_fast_fit.py 2>&1 | tail -8
step fused; timeout 180 python3 scripts/gpu_fused.py --out "$OUT/fused.json" > "$OUT/fused.log" 2>&1; grep -E "^(unfused|fused|compile)" "$OUT/fused.log"; tail -3 "$OUT/fused.log"
for flags in "" "--fuse" "--fuse --compile"; do
  name=bench$(echo "$flags" | tr -d ' ' | tr '-' '_'); step "$name"
  timeout 120 python3 -m lenetlab bench --device cuda --epochs 3 --no-notebook --json $flags > "$OUT/$name.json" 2> "$OUT/$name.log"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['fast_path'])" "$OUT/$name.json"
done
for flags in "" "--fuse"; do
  name=speedrun$(echo "$flags" | tr -d ' ' | tr '-' '_'); step "$name"
  timeout 120 python3 -m lenetlab speedrun --device cuda $flags --out "$OUT/$name.json" 2>&1 | tail -4
done
step end

#!/usr/bin/env bash
# Every GPU measurement of the speed work in one call (the device machine is lent for minutes):
# the GPU tests, `lenetlab bench --device cuda`, the recipe search and the speedruns of both tracks.
# Usage on a CUDA machine, from the repository root: OUT=/tmp/out bash scripts/gpu_session.sh
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lenetlab-gpu}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'python', sys.version.split()[0])" | tee -a "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_engine.py 2>&1 | tail -15 | tee "$OUT/pytest.txt"
python3 -m lenetlab bench --device cuda --epochs 3 --no-notebook --json > "$OUT/bench.json" 2> "$OUT/bench.err"; tail -3 "$OUT/bench.err"
python3 -c "import json; from lenetlab.bench import format_report; print(format_report(json.load(open('$OUT/bench.json'))))"
python3 scripts/speedrun_search.py --device cuda --out "$OUT/search.json" 2> "$OUT/search.log"; echo "search exit $?"
grep -E "best|seed [0-9]:|yardstick|capture" "$OUT/search.log" | tail -30
for variant in "--precision bf16" "--no-channels-last" "--batch-size 512"; do
  python3 -m lenetlab bench --device cuda --epochs 3 --no-notebook --json $variant > "$OUT/bench_${variant// /_}.json" 2>/dev/null
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], 'fast', r['fast_path']['epoch_seconds'], 'train-loop', r['lenetlab']['epoch_seconds'])" "$OUT/bench_${variant// /_}.json" "$variant"
done

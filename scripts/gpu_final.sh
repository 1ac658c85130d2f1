#!/usr/bin/env bash
# The final GPU measurements (second device call of 2026-11-27): candidate speedrun recipes chosen from
# scripts/speedrun_search.py's validation runs, each timed with 5 seeds; the preset becomes the fastest
# candidate whose 5 seeds all reach the validation target. Then the lenet5-modern track and `bench`.
set -u
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/lenetlab-gpu}; mkdir -p "$OUT"
run() { name=$1; shift; python3 -m lenetlab speedrun --device cuda --seeds 5 --out "$OUT/$name.json" "$@" 2>>"$OUT/speedrun.log" | grep -E "reached|time|test|yardstick|not timed"; }
echo "A 256 0.4 10"; run A --batch-size 256 --lr 0.4 --epochs 10
echo "B 256 0.3 10"; run B --batch-size 256 --lr 0.3 --epochs 10
echo "C 256 0.2 12"; run C --batch-size 256 --lr 0.2 --epochs 12
echo "D 512 0.3 12"; run D --batch-size 512 --lr 0.3 --epochs 12
echo "modern 0.995"; run modern --model lenet5-modern
echo "modern 0.994"; run modern994 --model lenet5-modern --target 0.994
python3 -m lenetlab bench --device cuda --epochs 3 --json > "$OUT/bench.json" 2>/dev/null
python3 -c "import json; from lenetlab.bench import format_report; print(format_report(json.load(open('$OUT/bench.json'))))"
python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_engine.py 2>&1 | tail -2

#!/usr/bin/env bash
# The paper's Fig. 8 experiment on this machine (issue 6): adascale-demo on
# a bundle under every shipped load trace, adaptive against the static
# trunk, plus (with ABLATION=1) the adaptive phase without the thread
# governor. Each run's timeline.csv, summary.json and timeline.png go to
# $OUT/<trace>/ (default experiments/results/demo); one summary line per
# trace goes to stdout and $OUT/summary.csv.
#
#   experiments/benchmarks/demo_traces.sh [BUNDLE] [BUDGET_MS] [DURATION_S]
#
# BUNDLE defaults to bundles/cifar10_cpu.adascale (adascale export --run
# runs/cifar10_cpu --out bundles/cifar10_cpu.adascale), BUDGET_MS to 10,
# DURATION_S (per phase) to 60. TRACES="a b" picks traces.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${1:-bundles/cifar10_cpu.adascale}
BUDGET=${2:-10}
DURATION=${3:-60}
OUT=${OUT:-experiments/results/demo}
TRACES=${TRACES:-"idle random user_activity ramp"}
BIN=build/bin/adascale-demo
[[ -d "$BUNDLE" ]] || { echo "$BUNDLE missing: run build/bin/adascale export --run runs/cifar10_cpu --out $BUNDLE" >&2; exit 1; }
mkdir -p "$OUT"
echo "trace,mode,budget_ms,adaptive_mean_ms,static_mean_ms,latency_reduction,adaptive_accuracy,static_accuracy,accuracy_drop_points,adaptive_miss_rate,static_miss_rate,switches,decision_us_mean" > "$OUT/summary.csv"
summarise() {  # trace mode dir
  /usr/bin/python3 - "$1" "$2" "$3" "$BUDGET" >> "$OUT/summary.csv" <<'PY'
import json, sys
trace, mode, d, budget = sys.argv[1:]
s = json.load(open(f"{d}/summary.json"))
a, st = s["phases"]["adaptive"], s["phases"].get("static")
if st is None:
    print(f"{trace},{mode},{budget},{a['latency_mean_ms']:.3f},,,{a['accuracy']:.4f},,,{a['miss_rate']:.4f},,{a['switches']},{a['decision_us_mean']:.2f}")
else:
    r = s["adaptive_vs_static"]
    print(f"{trace},{mode},{budget},{a['latency_mean_ms']:.3f},{st['latency_mean_ms']:.3f},{r['mean_latency_reduction']:.4f},{a['accuracy']:.4f},{st['accuracy']:.4f},{100*r['accuracy_drop_points']:.2f},{a['miss_rate']:.4f},{st['miss_rate']:.4f},{a['switches']},{a['decision_us_mean']:.2f}")
PY
}
for trace in $TRACES; do
  echo "== $trace (budget $BUDGET ms, $DURATION s per phase)"
  "$BIN" --bundle "$BUNDLE" --set runtime.policy.budget_ms="$BUDGET" \
    --set trace="configs/traces/$trace.yaml" --set duration_s="$DURATION" \
    --out "$OUT/$trace" --quiet | tail -7
  summarise "$trace" both "$OUT/$trace"
  if [[ "${ABLATION:-0}" == 1 ]]; then
    "$BIN" --bundle "$BUNDLE" --set runtime.policy.budget_ms="$BUDGET" \
      --set trace="configs/traces/$trace.yaml" --set duration_s="$DURATION" \
      --out "$OUT/${trace}_fixed_threads" --set mode=adaptive \
      --set runtime.threads.enabled=false --quiet | tail -3
    summarise "$trace" adaptive_fixed_threads "$OUT/${trace}_fixed_threads"
  fi
done
echo; column -s, -t < "$OUT/summary.csv"

#!/usr/bin/env bash
# Calibration of the runtime's predicted latency bound: adascale-demo's
# adaptive phase under every shipped load trace and under
# `stress-ng --cpu 1` (idle trace), each for DURATION_S seconds; prints,
# per run, the share of inferences at or under the p90 the loop predicted
# before they ran (target 90% ± 5%), how far out the bound sat (mean bound
# over mean latency), misses and mean latency, and writes $OUT/coverage.csv
# beside each run's summary.json. One more run under the random trace at a
# tight budget (TIGHT_BUDGET_MS, 1 ms) makes the loop switch variants.
#
#   experiments/benchmarks/latency_bound_coverage.sh [BUNDLE] [DURATION_S]
#
# BUNDLE defaults to bundles/cifar10_cpu.adascale, DURATION_S to 60;
# BUDGET_MS (10), QUANTILE (0.9), TRACES ("idle random user_activity ramp")
# and OUT (experiments/results/latency_bound) change the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${1:-bundles/cifar10_cpu.adascale}
DURATION=${2:-60}
BUDGET=${BUDGET_MS:-10}
QUANTILE=${QUANTILE:-0.9}
TRACES=${TRACES:-"idle random user_activity ramp"}
OUT=${OUT:-experiments/results/latency_bound}
BIN=build/bin/adascale-demo
[[ -x "$BIN" ]] || { echo "$BIN missing: build first (scripts/setup.sh)" >&2; exit 1; }
[[ -d "$BUNDLE" ]] || { echo "$BUNDLE missing: export a bundle (docs/runtime.md)" >&2; exit 1; }
command -v stress-ng >/dev/null || { echo "stress-ng missing: apt-get install stress-ng" >&2; exit 1; }
mkdir -p "$OUT"
csv="$OUT/coverage.csv"
echo "run,budget_ms,quantile,scored,coverage,bound_over_latency,miss_rate,latency_mean_ms,latency_p95_ms,switches" > "$csv"

demo() {  # name trace [budget_ms]
  local budget=${3:-$BUDGET}
  "$BIN" --bundle "$BUNDLE" --set mode=adaptive \
    --set runtime.policy.budget_ms="$budget" \
    --set runtime.predicted_quantile="$QUANTILE" \
    --set trace="configs/traces/$2.yaml" --set duration_s="$DURATION" \
    --out "$OUT/$1" --quiet > "$OUT/$1.log"
  /usr/bin/python3 - "$1" "$OUT/$1/summary.json" "$QUANTILE" "$budget" >> "$csv" <<'PY'
import json, sys
name, path, q, budget = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
a = json.load(open(path))["phases"]["adaptive"]
cov, tight = a["latency_bound_coverage"], a["latency_bound_tightness"]
print(f"{name},{budget},{q},{a['latency_bound_scored']},{'' if cov is None else f'{cov:.4f}'},"
      f"{'' if tight is None else f'{tight:.3f}'},"
      f"{a['miss_rate']:.4f},{a['latency_mean_ms']:.3f},"
      f"{a['latency_p95_ms']:.3f},{a['switches']}")
PY
  tail -1 "$csv"
}

for trace in $TRACES; do demo "$trace" "$trace"; done
demo random_tight random "${TIGHT_BUDGET_MS:-1}"
stress-ng --cpu 1 --quiet & stress=$!
trap 'kill $stress 2>/dev/null || true' EXIT
demo stress_cpu1 idle
kill "$stress"; wait "$stress" 2>/dev/null || true
echo; column -s, -t < "$csv"

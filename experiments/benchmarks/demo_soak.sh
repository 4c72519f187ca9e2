#!/usr/bin/env bash
# Soak benchmark: adascale-demo's adaptive phase for a long run
# under a load trace, with the demo's resident memory sampled every
# INTERVAL seconds. Prints RSS first / last / max, the growth between the
# first and second half, the demo's misses and its exit status; writes
# $OUT/rss.csv (seconds, demo RSS MiB, RSS of the demo's child processes
# (the load generator) MiB) beside the demo's own summary.json.
#
#   experiments/benchmarks/demo_soak.sh [BUNDLE] [DURATION_S] [TRACE]
#
# BUNDLE defaults to bundles/cifar10_cpu.adascale, DURATION_S to 1800,
# TRACE to random (configs/traces/TRACE.yaml); INTERVAL=10, BUDGET_MS=10,
# OUT=experiments/results/soak and DEMO_SETS (more --set arguments, e.g.
# "--set runtime.min_accuracy=0" for a quick net) change the rest.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUNDLE=${1:-bundles/cifar10_cpu.adascale}
DURATION=${2:-1800}
TRACE=${3:-random}
INTERVAL=${INTERVAL:-10}
BUDGET=${BUDGET_MS:-10}
OUT=${OUT:-experiments/results/soak}
# shellcheck disable=SC2206
DEMO_SETS=(${DEMO_SETS:-})
BIN=build/bin/adascale-demo
[[ -x "$BIN" ]] || { echo "$BIN missing: build first (scripts/setup.sh)" >&2; exit 1; }
[[ -d "$BUNDLE" ]] || { echo "$BUNDLE missing: export a bundle (docs/runtime.md)" >&2; exit 1; }
[[ -f "configs/traces/$TRACE.yaml" ]] || { echo "configs/traces/$TRACE.yaml: no such trace" >&2; exit 1; }
mkdir -p "$OUT"

rss_mib() {  # pid -> resident MiB, empty once the process is gone
  awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || true
}
children_rss_mib() {  # pid -> summed resident MiB of its direct children
  local total=0 c r
  for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
    r=$(rss_mib "$c"); [[ -n "$r" ]] && total=$(awk -v a="$total" -v b="$r" 'BEGIN {print a + b}')
  done
  echo "$total"
}

echo "soak: $BIN on $BUNDLE, trace $TRACE, ${DURATION} s, budget ${BUDGET} ms, RSS every ${INTERVAL} s -> $OUT"
"$BIN" --bundle "$BUNDLE" --set mode=adaptive --set duration_s="$DURATION" \
  --set trace="configs/traces/$TRACE.yaml" --set runtime.policy.budget_ms="$BUDGET" \
  "${DEMO_SETS[@]}" --out "$OUT" --quiet > "$OUT/demo.log" 2>&1 &
pid=$!
start=$(date +%s.%N)
echo "seconds,rss_mib,children_rss_mib" > "$OUT/rss.csv"
while kill -0 "$pid" 2>/dev/null; do
  r=$(rss_mib "$pid")
  [[ -n "$r" ]] && echo "$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - s}'),$r,$(children_rss_mib "$pid")" >> "$OUT/rss.csv"
  sleep "$INTERVAL" & wait $! || true
done
status=0
wait "$pid" || status=$?

/usr/bin/python3 - "$OUT" "$status" <<'PY'
import csv, json, os, sys
out, status = sys.argv[1], int(sys.argv[2])
rows = [(float(r["seconds"]), float(r["rss_mib"]), float(r["children_rss_mib"]))
        for r in csv.DictReader(open(f"{out}/rss.csv"))]
if not rows:
    sys.exit(f"{out}/rss.csv: no samples (the demo ended at once; see {out}/demo.log)")
rss = [r[1] for r in rows]
t = [r[0] for r in rows]
# Growth is judged after start-up (bundle, engine, test set loaded): the
# samples past the first tenth of the run, at least 30 s in.
settled = [(a, b) for a, b in zip(t, rss) if a >= max(30.0, 0.1 * t[-1])]
print(f"samples {len(rows)} over {t[-1]:.0f} s")
print(f"demo RSS MiB: first {rss[0]:.1f}, last {rss[-1]:.1f}, max {max(rss):.1f}")
if len(settled) >= 2:
    n = len(settled)
    mt = sum(a for a, _ in settled) / n
    mr = sum(b for _, b in settled) / n
    slope = sum((a - mt) * (b - mr) for a, b in settled) / max(
        1e-9, sum((a - mt) ** 2 for a, _ in settled))
    print(f"after start-up ({settled[0][0]:.0f} s on): first {settled[0][1]:.1f}, "
          f"last {settled[-1][1]:.1f}, max {max(b for _, b in settled):.1f} MiB; "
          f"trend {slope * 3600:+.1f} MiB/hour (least squares)")
print(f"load generator RSS MiB: max {max(r[2] for r in rows):.1f}")
path = f"{out}/summary.json"
if os.path.exists(path):
    a = json.load(open(path))["phases"]["adaptive"]
    print(f"inferences {a['inferences']}, misses {a['miss_rate'] * 100:.2f}% "
          f"({round(a['miss_rate'] * a['inferences'])}), mean {a['latency_mean_ms']:.3f} ms, "
          f"accuracy {a['accuracy'] * 100:.2f}%, switches {a['switches']}")
else:
    print(f"no {path}: the demo did not finish its summary")
print(f"demo exit status {status}" + ("" if status == 0 else " (crashed or refused: see demo.log)"))
sys.exit(0 if status == 0 else 1)
PY

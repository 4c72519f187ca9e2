#!/usr/bin/env bash
# Latency-predictor accuracy on this machine (issue 5): the share of
# variants whose predicted batch-1 latency lies within ±10% of the measured
# one, idle and while stress-ng loads one core.
#
#   experiments/benchmarks/predictor_accuracy.sh [RUN] [DEVICE]
#
# RUN defaults to runs/cifar10_cpu (a trained elastic run), DEVICE to
# configs/devices/dev_vm_epyc.yaml (written by `adascale calibrate`). The
# idle pass fits the latency model (figure: 5-fold cross-validated, every
# variant predicted by a model that never saw it); the loaded pass fits the
# load slope on every fifth variant and scores the other four fifths. Both
# passes rebuild the run's tables with every configs/devices profile.
# Figures go to stdout and $OUT (default /tmp/predictor_accuracy).
# THREADS=N runs inference on N intra-op threads (default: the config's).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUN=${1:-runs/cifar10_cpu}
DEVICE=${2:-configs/devices/dev_vm_epyc.yaml}
OUT=${OUT:-/tmp/predictor_accuracy}
BIN=build/bin/adascale
SETS=()
[[ -n "${THREADS:-}" ]] && SETS=(--set "threads=$THREADS")
mkdir -p "$OUT"
command -v stress-ng >/dev/null || { echo "stress-ng missing: scripts/setup.sh installs it" >&2; exit 1; }
[[ -f "$DEVICE" ]] || { echo "$DEVICE missing: run $BIN calibrate --out $DEVICE" >&2; exit 1; }

devices=(--device-profile "$DEVICE")
for f in configs/devices/*.yaml; do
  [[ "$(realpath "$f")" == "$(realpath "$DEVICE")" ]] || devices+=(--device-profile "$f")
done

echo "idle: measuring every variant at batch 1 and 8 ..." >&2
"$BIN" tables --run "$RUN" "${devices[@]}" "${SETS[@]}" --measure --json > "$OUT/idle.json"

echo "loaded: stress-ng --cpu 1 ..." >&2
stress-ng --cpu 1 --timeout 3600 --quiet &
stress=$!
trap 'kill $stress 2>/dev/null || true' EXIT
sleep 2
# Fewer passes: under this load every pass takes about ten times longer.
"$BIN" tables --run "$RUN" "${devices[@]}" "${SETS[@]}" --measure --repeats 9 --json > "$OUT/load.json"
kill $stress; wait $stress 2>/dev/null || true

/usr/bin/python3 - "$OUT/idle.json" "$OUT/load.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    for f in json.load(open(path))["latency_fits"]:
        if f["mode"] == "fit":
            print(f"idle   batch {f['batch']}: {100*f['within_10pct']:.1f}% within ±10% "
                  f"(median error {100*f['median_abs_rel_error']:.1f}%, pure roofline "
                  f"{100*f['roofline_within_10pct']:.1f}%), background load {f['background_load']:.2f}, "
                  f"test-retest {100*f['retest_within_10pct']:.1f}%")
        else:
            print(f"loaded batch {f['batch']}: {100*f['within_10pct']:.1f}% within ±10% "
                  f"(uncorrected {100*f['within_10pct_uncorrected']:.1f}%, median error "
                  f"{100*f['median_abs_rel_error']:.1f}%), background load "
                  f"{f['background_load']:.2f}, kappa {f['load_slope']:.2f}, "
                  f"lambda {f['load_per_layer_us']:.1f} us/layer, test-retest "
                  f"{100*f['retest_within_10pct']:.1f}%")
PY

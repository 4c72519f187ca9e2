#!/usr/bin/env bash
# The main job: the whole AdaScale pipeline on CIFAR-10.
#
#   scripts/run.sh            # full: the CPU recipe, ~2.5 h of training on 2 cores
#   scripts/run.sh --quick    # the same steps on a small budget, under 10 minutes
#
# Steps: setup and build, get CIFAR-10, train the elastic net stage by stage,
# evaluate every exit and variant, probe the trunk, calibrate this machine,
# build the performance tables (idle, then under one core of stress-ng load
# for the load correction), export a bundle, and run adascale-demo for a
# minute under the user-activity trace. Every step leaves a file; running
# the script again skips the steps whose file exists and resumes training
# from its last checkpoint, so an interrupted job (Ctrl-C checkpoints) picks
# up where it stopped. Delete a step's file to redo that step.
#
# Environment: BUILD_DIR (build), RUN, CONFIG, BUNDLE, DEMO_OUT override the
# paths below; BUDGET_MS (10) is the demo's latency budget, chosen for a
# 2-core x86 VM where the full trunk runs in ~6 ms: pick one near your
# machine's trunk latency (`adascale inspect --bundle B` lists variants).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
case "${1:-}" in
  "") ;;
  --quick) QUICK=1 ;;
  *) echo "usage: scripts/run.sh [--quick]" >&2; exit 2 ;;
esac

BUILD_DIR=${BUILD_DIR:-build}
if ((QUICK)); then
  RUN=${RUN:-runs/cifar10_quick}
  CONFIG=${CONFIG:-configs/train/cifar10_quick.yaml}
  BUNDLE=${BUNDLE:-bundles/cifar10_quick.adascale}
  DEMO_OUT=${DEMO_OUT:-demo_runs/cifar10_quick}
  EVAL=(--limit 1000 --variants trunk)   # the tables score every variant
  PROBE=(--limit 1000 --epochs 5)
  CALIBRATE=(--quick)
  TABLES=(--repeats 3 --validation-limit 500 --batch 2)
  # Per phase (adaptive, then static); a quick net is below the 50% a real
  # deployment would ask of its variants, so every variant may run.
  DEMO=(--set duration_s=20 --set limit=500 --set warmup_s=1 --set runtime.min_accuracy=0)
else
  RUN=${RUN:-runs/cifar10_cpu}
  CONFIG=${CONFIG:-configs/train/cifar10_cpu.yaml}
  BUNDLE=${BUNDLE:-bundles/cifar10_cpu.adascale}
  DEMO_OUT=${DEMO_OUT:-demo_runs/cifar10_cpu}
  EVAL=()
  PROBE=()
  CALIBRATE=()
  TABLES=()
  DEMO=(--set duration_s=30)
fi
BUDGET_MS=${BUDGET_MS:-10}
adascale="$BUILD_DIR/bin/adascale"
demo="$BUILD_DIR/bin/adascale-demo"
started=$SECONDS

step() { echo; echo "== run.sh: $* ($((SECONDS - started)) s)"; }
# Runs a command whose stdout is a step's result file: written to a
# temporary name and renamed only on success, so an interrupted step is
# redone rather than taken for finished.
to_file() {
  local out=$1; shift
  "$@" > "$out.part" && mv "$out.part" "$out"
}

step "setup and build"
scripts/setup.sh
step "CIFAR-10"
scripts/get_data.sh
((QUICK)) || "$adascale" data --config configs/datasets/cifar10.yaml

step "train $CONFIG -> $RUN"
if [ -f "$RUN/summary.json" ]; then
  echo "$RUN is trained; skipping"
elif [ -f "$RUN/checkpoints/last.pt" ]; then
  "$adascale" train --run "$RUN" --resume
else
  "$adascale" train --config "$CONFIG" --run "$RUN"
fi

step "evaluate every exit and variant"
[ -f "$RUN/eval.json" ] && echo "done" || "$adascale" eval --run "$RUN" "${EVAL[@]}"
step "linear probes after every trunk block"
[ -f "$RUN/probes.csv" ] && echo "done" || "$adascale" probe --run "$RUN" "${PROBE[@]}"

step "calibrate this machine"
DEVICE=${DEVICE:-$RUN/device.yaml}
[ -f "$DEVICE" ] && echo "done: $DEVICE" ||
  "$adascale" calibrate --out "$DEVICE" --name this_machine "${CALIBRATE[@]}"
devices=(--device-profile "$DEVICE")
for f in configs/devices/*.yaml; do devices+=(--device-profile "$f"); done

step "performance tables, idle"
[ -f "$RUN/tables_idle.json" ] && echo "done" ||
  to_file "$RUN/tables_idle.json" "$adascale" tables --run "$RUN" "${devices[@]}" \
    --measure "${TABLES[@]}" --json
step "performance tables under one core of background load (load correction)"
if [ -f "$RUN/tables_load.json" ]; then
  echo "done"
else
  command -v stress-ng >/dev/null || { echo "stress-ng missing: scripts/setup.sh installs it" >&2; exit 1; }
  stress-ng --cpu 1 --timeout 3600 --quiet &
  stress=$!
  trap 'kill $stress 2>/dev/null || true' EXIT
  sleep 2
  # Fewer passes: under this load every pass takes several times longer.
  load_repeats=(--repeats 9)
  ((QUICK)) && load_repeats=()
  to_file "$RUN/tables_load.json" "$adascale" tables --run "$RUN" "${devices[@]}" \
    --measure "${TABLES[@]}" "${load_repeats[@]}" --json
  kill $stress; wait $stress 2>/dev/null || true
  trap - EXIT
fi

step "export $BUNDLE"
if [ -f "$BUNDLE/SHA256SUMS" ] && [ "$BUNDLE/SHA256SUMS" -nt "$RUN/tables.h5" ]; then
  echo "done"
else
  "$adascale" export --run "$RUN" --out "$BUNDLE" --force
fi

step "adascale-demo under the user-activity trace, budget $BUDGET_MS ms"
[ -f "$DEMO_OUT/summary.json" ] && echo "done" ||
  "$demo" --bundle "$BUNDLE" --set runtime.policy.budget_ms="$BUDGET_MS" \
    --set trace=configs/traces/user_activity.yaml --out "$DEMO_OUT" --quiet "${DEMO[@]}"

cat <<DONE

run.sh: finished in $((SECONDS - started)) s; outputs
  $RUN/config.yaml         resolved config
  $RUN/summary.json        trunk, per-exit test top-1, wall time, peak memory
  $RUN/log.txt             log of every step
  $RUN/metrics.csv         per-epoch and per-stage metrics (also metrics.h5)
  $RUN/eval.json           test top-1 per exit and per variant, early-exit curve
  $RUN/probes.csv          linear-probe accuracy per trunk depth
  $RUN/checkpoints/        last.pt and stage<k>.pt
  $DEVICE    this machine's device profile (adascale calibrate)
  $RUN/tables.h5           performance-index and predictive-performance tables (also tables.csv)
  $RUN/tables_idle.json    latency-model fits, idle; tables_load.json: the load correction
  $BUNDLE    deployable bundle (adascale inspect --bundle $BUNDLE)
  $DEMO_OUT/               demo timeline.csv, summary.json, timeline.png, config.yaml
Reproduce the paper's results: scripts/reproduce.sh$( ((QUICK)) && echo " --budget quick")
DONE

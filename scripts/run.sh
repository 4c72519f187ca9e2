#!/usr/bin/env bash
# The main job: build, fetch CIFAR-10, train the elastic net with the CPU
# recipe (about 2 hours on 2 cores), then evaluate it and probe its trunk.
# Interrupt it at any time (Ctrl-C checkpoints); running it again resumes
# where it stopped and skips the steps already done.
# Later issues add tables, export and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
RUN=${RUN:-runs/cifar10_cpu}
CONFIG=${CONFIG:-configs/train/cifar10_cpu.yaml}
adascale="$BUILD_DIR/bin/adascale"

scripts/setup.sh
scripts/get_data.sh
"$adascale" data --config configs/datasets/cifar10.yaml

if [ -f "$RUN/summary.json" ]; then
  echo "run.sh: $RUN is trained; skipping training"
elif [ -f "$RUN/checkpoints/last.pt" ]; then
  "$adascale" train --out "$RUN" --resume
else
  "$adascale" train --config "$CONFIG" --out "$RUN"
fi
[ -f "$RUN/eval.json" ] || "$adascale" eval --run "$RUN"
[ -f "$RUN/probes.csv" ] || "$adascale" probe --run "$RUN"

cat <<DONE
run.sh: outputs
  $RUN/config.yaml     resolved config
  $RUN/summary.json    trunk, per-exit test top-1, wall time, peak memory
  $RUN/log.txt         log of every step
  $RUN/metrics.csv     per-epoch and per-stage metrics (also metrics.h5)
  $RUN/eval.json       test top-1 per exit and per variant, early-exit curve
  $RUN/probes.csv      linear-probe accuracy per trunk depth
  $RUN/checkpoints/    last.pt and stage<k>.pt
DONE

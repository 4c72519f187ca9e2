#!/usr/bin/env bash
# The main job. For now: build, fetch CIFAR-10, and summarise the default
# dataset. Later issues add training, tables, export and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
scripts/get_data.sh
"$BUILD_DIR/bin/adascale" data --config configs/datasets/cifar10.yaml "$@"

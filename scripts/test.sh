#!/usr/bin/env bash
# Builds (installing dependencies when needed) and runs the whole test suite.
# Exits non-zero on any failure; prints ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/setup.sh
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"

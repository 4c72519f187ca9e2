#!/usr/bin/env bash
# Format check of every C++ file, a short run of every fuzz target
# (libFuzzer, clang, build-fuzz/: scripts/fuzz.sh), then the test suite built
# with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/.
#   FUZZ_SECONDS=60 scripts/check.sh      # longer fuzz runs (default 10 s each)
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.h')
if ! clang-format --dry-run --Werror $files; then
  echo "check: files above need clang-format -i" >&2
  exit 1
fi
echo "check: formatting ok"
scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-10}"
# LibTorch's own code trips LeakSanitizer at exit (global caches); leaks in
# our code are still caught by valgrind runs, ASan checks memory errors here.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
BUILD_DIR=build-asan CMAKE_ARGS="-DADASCALE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
  scripts/setup.sh
cd build-asan
ctest --output-on-failure -j "$(nproc)"

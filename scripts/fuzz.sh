#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs
# each for a bounded time from the generated seed corpus and the kept
# findings (tests/fuzz_regressions/<reader>/). Any crash, sanitizer report,
# timeout, or allocation past the limits fails it; the input is left in
# build-fuzz/findings/<reader>/. docs/fuzzing.md has the details.
#   scripts/fuzz.sh [--seconds N] [reader...]   # default: 10 s, every reader
#   FUZZ_JOBS=2 scripts/fuzz.sh                 # ninja -j (default 1, niced)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
readers=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) readers+=("$1"); shift ;;
  esac
done
((${#readers[@]})) || readers=(cifar idx tiny_imagenet image_folder config manifest checkpoint)

BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
# clang and its libFuzzer runtime, installed with what scripts/setup.sh
# installs.
ADASCALE_EXTRA_PACKAGES="clang libclang-rt-14-dev" scripts/setup.sh --no-build
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -G Ninja -S . -B "$BUILD_DIR" -DADASCALE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
targets=(adascale_fuzz_corpus)
for r in "${readers[@]}"; do targets+=("${r}_fuzz"); done
nice -n 15 ninja -j "${FUZZ_JOBS:-1}" -C "$BUILD_DIR" "${targets[@]}"

seeds="$BUILD_DIR/corpus-seeds"
rm -rf "$seeds" && "$BUILD_DIR/bin/adascale_fuzz_corpus" "$seeds"
export ADASCALE_FUZZ_TMP="$PWD/$BUILD_DIR/tmp"
mkdir -p "$ADASCALE_FUZZ_TMP"
# Leak checking stays off: LibTorch, TBB and OpenCV keep global caches that
# LeakSanitizer reports (as in check.sh's ASan suite). Unbounded growth is
# caught by the RSS and malloc limits instead.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
for r in "${readers[@]}"; do
  corpus="$BUILD_DIR/corpus/$r"           # grows across runs; not in git
  findings="$BUILD_DIR/findings/$r"
  kept="tests/fuzz_regressions/$r"
  mkdir -p "$corpus" "$findings" "$kept"
  echo "fuzz: $r for ${seconds}s"
  if ! nice -n 15 "$BUILD_DIR/bin/${r}_fuzz" \
      -max_total_time="$seconds" -timeout=30 \
      -rss_limit_mb=2560 -malloc_limit_mb=1024 -detect_leaks=0 \
      -dict=fuzz/parts.dict -artifact_prefix="$findings/" \
      -print_final_stats=1 \
      "$corpus" "$seeds/$r" "$kept" >"$findings/last_run.log" 2>&1; then
    failed+=("$r")
    tail -n 40 "$findings/last_run.log" >&2
  fi
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' \
    "$findings/last_run.log" | tail -n 2 | sed "s/^/fuzz: $r: /"
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]}: inputs in $BUILD_DIR/findings/<reader>/;" \
       "fix the reader, then keep the input under tests/fuzz_regressions/<reader>/" >&2
  exit 1
fi
echo "fuzz: no findings"

#!/usr/bin/env bash
# Installs every Debian package AdaScale needs (only those missing), then
# configures and builds. Idempotent: a second run installs nothing and only
# rebuilds what changed.
#   scripts/setup.sh [--no-build]
#   BUILD_DIR=build-x scripts/setup.sh     # another build directory
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config git clang-format
  libtorch-dev libopenblas0-openmp     # LibTorch; OpenBLAS makes convs ~5x faster
  libopencv-dev libyaml-cpp-dev libtbb-dev libfmt-dev libspdlog-dev
  libgtest-dev libhdf5-dev libcli11-dev nlohmann-json3-dev zlib1g-dev
  libssl-dev                                              # SHA-256 of bundle files
  libgloo-dev                  # Gloo headers for LibTorch's c10d (distributed training)
  python3-matplotlib python3-torch python3-torchvision   # plots, comparisons; torchrun
  python3-yaml                                            # reproduction drivers (experiments/reproduce)
  stress-ng                                               # background load in benchmarks
  dataset-fashion-mnist
)

# Callers add their own needs (scripts/fuzz.sh: clang and libFuzzer).
# shellcheck disable=SC2206
PACKAGES+=(${ADASCALE_EXTRA_PACKAGES:-})

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--no-build" ] && exit 0

BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

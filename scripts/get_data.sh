#!/usr/bin/env bash
# Puts CIFAR-10 (and CIFAR-100 when its archive is available) under data/.
# Archives are taken from $ADASCALE_DATA_DIR, else ../shared/data/, else
# downloaded from the official site. Record counts are verified.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data

find_archive() {  # name -> path or empty
  for dir in "${ADASCALE_DATA_DIR:-}" ../shared/data; do
    [ -n "$dir" ] && [ -f "$dir/$1" ] && { echo "$dir/$1"; return; }
  done
}

verify() {  # dir record_bytes expected_records files...
  local dir=$1 rec=$2 want=$3; shift 3
  for f in "$@"; do
    [ -f "$dir/$f" ] || { echo "get_data: $dir/$f missing" >&2; exit 1; }
    local size; size=$(stat -c %s "$dir/$f")
    if (( size % rec != 0 )); then
      echo "get_data: $dir/$f: $size bytes is not a whole number of $rec-byte records" >&2; exit 1
    fi
    local n=$(( size / rec ))
    local expect=$want
    [ "$f" = "train.bin" ] && expect=50000
    if (( n != expect )); then
      echo "get_data: $dir/$f: $n records, expected $expect" >&2; exit 1
    fi
  done
}

fetch() {  # archive url -> local path
  local archive=$1 url=$2 local_path
  local_path=$(find_archive "$archive")
  if [ -z "$local_path" ]; then
    echo "get_data: $archive not found locally; downloading $url" >&2
    curl -fL --retry 2 -o "data/$archive.part" "$url" && mv "data/$archive.part" "data/$archive" \
      || { rm -f "data/$archive.part"; return 1; }
    local_path="data/$archive"
  fi
  echo "$local_path"
}

if [ ! -f data/cifar-10-batches-bin/.verified ]; then
  archive=$(fetch cifar-10-binary.tar.gz https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz) \
    || { echo "get_data: cannot obtain CIFAR-10 (set ADASCALE_DATA_DIR)" >&2; exit 1; }
  echo "get_data: extracting $archive"
  tar -xzf "$archive" -C data
  verify data/cifar-10-batches-bin 3073 10000 \
    data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin
  touch data/cifar-10-batches-bin/.verified
fi
echo "get_data: CIFAR-10 ready in data/cifar-10-batches-bin (50000 train + 10000 test records)"

if [ ! -f data/cifar-100-binary/.verified ]; then
  if archive=$(find_archive cifar-100-binary.tar.gz) && [ -n "$archive" ]; then
    tar -xzf "$archive" -C data
    verify data/cifar-100-binary 3074 10000 train.bin test.bin
    touch data/cifar-100-binary/.verified
    echo "get_data: CIFAR-100 ready in data/cifar-100-binary"
  else
    echo "get_data: CIFAR-100 archive not available locally; skipped (put cifar-100-binary.tar.gz in \$ADASCALE_DATA_DIR)"
  fi
fi

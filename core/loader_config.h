#pragma once
/// How batches are made (pure data).

#include "core/config/checks.h"

namespace adascale::core {

/// `loader:` section.
struct LoaderConfig {
  int batch_size = 128;
  bool shuffle = true;         ///< reshuffle every epoch (seeded)
  bool drop_last = true;       ///< drop a last, incomplete training batch
  int prefetch = 2;            ///< batches prepared ahead in the background
  bool channels_last = false;  ///< NHWC memory layout for the batch tensor

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("batch_size", batch_size, check::in_range(1, 65536));
    v("shuffle", shuffle);
    v("drop_last", drop_last);
    v("prefetch", prefetch, check::in_range(0, 64));
    v("channels_last", channels_last);
  }
};

}  // namespace adascale::core

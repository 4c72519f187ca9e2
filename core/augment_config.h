#pragma once
/// Training-time augmentation and the input resolution (pure data).

#include "core/config/checks.h"

namespace adascale::core {

/// `augment:` section. Evaluation uses only `resize` and normalisation.
struct AugmentConfig {
  int crop_padding = 0;          ///< random crop after zero padding; 0 = off
  bool horizontal_flip = false;  ///< flip left-right with probability 1/2
  int resize = 0;                ///< output side (a NAS dimension); 0 = native
  int cutout = 0;                ///< side of a zeroed square; 0 = off

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("crop_padding", crop_padding, check::in_range(0, 64));
    v("horizontal_flip", horizontal_flip);
    v("resize", resize, check::in_range(0, 1024));
    v("cutout", cutout, check::in_range(0, 1024));
  }
};

}  // namespace adascale::core

#pragma once
/// The description of one operator block (DESIGN §3.1): pure data, read from
/// YAML and handed to operators::make_operator(). Every operator maps
/// N×in_channels×H×W to N×out_channels×⌈H/stride⌉×⌈W/stride⌉; the fields an
/// operator does not use are ignored by it (its registry traits say which it
/// uses).

#include <string>
#include <vector>

#include "core/config/checks.h"

namespace adascale::core {

/// One operator block. `in_channels`, `out_channels` and `stride` are set by
/// the network that places the block; the rest is the operator's own shape.
struct OperatorSpec {
  /// Registry name: basic, bottleneck, dws, mbconv, shuffle, fire, ghost,
  /// mixconv, inception, dense, factorized, lowrank, or a user operator.
  std::string type = "basic";
  int in_channels = 0;
  int out_channels = 0;
  int stride = 1;
  /// Spatial kernel of the main convolution(s) (odd).
  int kernel = 3;
  /// Hidden-to-input channel ratio of expanding blocks (mbconv, ghost).
  double expand_ratio = 1.0;
  /// Width multiplier applied to the block's hidden channels (NAS width).
  double width = 1.0;
  /// Squeeze-and-excitation on the hidden features where supported.
  bool se = false;
  /// Activation: relu | relu6 | hswish | silu | gelu.
  std::string act = "relu";
  /// Kernels of the parallel depthwise groups (mixconv).
  std::vector<int> kernels = {3, 5, 7};
  /// Channels added per dense layer (dense); 0 = out_channels / 4.
  int growth_rate = 0;
  /// Layers per dense block (dense).
  int layers = 4;
  /// Squeeze channels relative to out_channels (fire).
  double squeeze_ratio = 0.125;
  /// Rank of the decomposed convolutions relative to their full rank
  /// (lowrank); `rank` > 0 overrides it with an absolute rank.
  double rank_ratio = 0.25;
  int rank = 0;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("type", type, "operator name in the registry");
    v("in_channels", in_channels, check::at_least(0), "set by the network");
    v("out_channels", out_channels, check::at_least(0), "set by the network");
    v("stride", stride, check::in_range(1, 4), "set by the network");
    v("kernel", kernel, check::in_range(1, 11), "main kernel size (odd)");
    v("expand_ratio", expand_ratio, check::in_range(0.1, 16.0));
    v("width", width, check::in_range(0.05, 8.0), "hidden width multiplier");
    v("se", se, "squeeze-and-excitation");
    v("act", act, check::one_of({"relu", "relu6", "hswish", "silu", "gelu"}));
    v("kernels", kernels, check::each(check::in_range(1, 11)));
    v("growth_rate", growth_rate, check::at_least(0));
    v("layers", layers, check::in_range(1, 64));
    v("squeeze_ratio", squeeze_ratio, check::in_range(0.01, 4.0));
    v("rank_ratio", rank_ratio, check::in_range(0.01, 1.0));
    v("rank", rank, check::at_least(0));
  }
};

}  // namespace adascale::core

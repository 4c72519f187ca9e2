#include "operators/shortcut.h"

namespace adascale::operators {

ShortcutImpl::ShortcutImpl(int64_t in_channels_, int64_t out_channels_,
                           int64_t stride_)
    : in_channels(in_channels_), out_channels(out_channels_), stride(stride_) {
  reset();
}

void ShortcutImpl::reset() {
  if (in_channels == out_channels && stride == 1) return;
  conv = register_module(
      "conv",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, 1)
                            .stride(stride)
                            .bias(false)));
  bn = register_module("bn", torch::nn::BatchNorm2d(out_channels));
}

torch::Tensor ShortcutImpl::forward(torch::Tensor x) {
  return conv ? bn(conv(x)) : x;
}

}  // namespace adascale::operators

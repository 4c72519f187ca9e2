#include "operators/bn_folding.h"

#include <fmt/format.h>

#include "core/error.h"
#include "operators/conv_bn_act.h"

namespace adascale::operators {

torch::nn::Conv2d fold_batch_norm(const torch::nn::Conv2d& conv,
                                  const torch::nn::BatchNorm2d& bn) {
  const auto& bo = bn->options;
  if (!bo.track_running_stats() || !bn->running_mean.defined()) {
    throw ConfigError(
        "fold_batch_norm: the BatchNorm has no running statistics "
        "(track_running_stats=false), so its eval output depends on the "
        "batch and cannot be folded");
  }
  if (bo.num_features() != conv->options.out_channels()) {
    throw ConfigError(fmt::format(
        "fold_batch_norm: BatchNorm has {} features but the conv has {} "
        "output channels",
        bo.num_features(), conv->options.out_channels()));
  }
  torch::NoGradGuard no_grad;
  // Double precision keeps the fold's own rounding below the float output's.
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  auto mean = bn->running_mean.to(opts);
  auto var = bn->running_var.to(opts);
  auto gamma = bo.affine() ? bn->weight.to(opts) : torch::ones_like(mean);
  auto beta = bo.affine() ? bn->bias.to(opts) : torch::zeros_like(mean);
  auto scale = gamma / torch::sqrt(var + bo.eps());
  auto bias =
      conv->options.bias() ? conv->bias.to(opts) : torch::zeros_like(mean);

  // conv->options is the untyped ConvNdOptions; Conv2d wants its own.
  const auto& co = conv->options;
  auto folded_options =
      torch::nn::Conv2dOptions(co.in_channels(), co.out_channels(),
                               co.kernel_size())
          .stride(co.stride())
          .padding(co.padding())
          .dilation(co.dilation())
          .groups(co.groups())
          .padding_mode(co.padding_mode())
          .bias(true);
  torch::nn::Conv2d folded(folded_options);
  const auto& w = conv->weight;
  folded->to(w.device(), w.scalar_type());
  folded->weight.copy_(w.to(opts) * scale.view({-1, 1, 1, 1}));
  folded->bias.copy_((bias - mean) * scale + beta);
  folded->train(conv->is_training());
  return folded;
}

int fold_batch_norms(torch::nn::Module& root) {
  int count = 0;
  for (const auto& module : root.modules(/*include_self=*/true)) {
    auto* unit = dynamic_cast<ConvBnActImpl*>(module.get());
    if (!unit || unit->folded()) continue;
    unit->fold();
    ++count;
  }
  return count;
}

}  // namespace adascale::operators

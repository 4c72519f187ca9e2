#include "operators/low_rank_conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace adascale::operators {

LowRankConv2dImpl::LowRankConv2dImpl(const LowRankConv2dOptions& options_)
    : options(options_) {
  reset();
}

void LowRankConv2dImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.out_channels() <= 0 || o.rank() <= 0) {
    throw ConfigError(fmt::format(
        "LowRankConv2d: in_channels {}, out_channels {} and rank {} must be "
        "> 0",
        o.in_channels(), o.out_channels(), o.rank()));
  }
  first = register_module(
      "first", torch::nn::Conv2d(torch::nn::Conv2dOptions(
                                     o.in_channels(), o.rank(), o.kernel_size())
                                     .stride(o.stride())
                                     .padding(o.padding())
                                     .padding_mode(o.padding_mode())
                                     .dilation(o.dilation())
                                     .bias(false)));
  second = register_module(
      "second",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(o.rank(), o.out_channels(), 1)
                            .bias(o.bias())));
}

torch::Tensor LowRankConv2dImpl::forward(torch::Tensor x) {
  return second(first(x));
}

void LowRankConv2dImpl::pretty_print(std::ostream& stream) const {
  auto k = *options.kernel_size();
  auto s = *options.stride();
  stream << "LowRankConv2d(" << options.in_channels() << "→" << options.rank()
         << "→" << options.out_channels() << ", kernel=" << k[0] << "x" << k[1]
         << ", stride=" << s[0] << "x" << s[1] << ")";
}

int64_t full_conv_rank(int64_t in_channels, int64_t out_channels,
                       int64_t kernel_h, int64_t kernel_w) {
  return std::min(out_channels, in_channels * kernel_h * kernel_w);
}

int64_t low_rank_for(const core::OperatorSpec& spec, int64_t in_channels,
                     int64_t out_channels, int64_t kernel) {
  int64_t full = full_conv_rank(in_channels, out_channels, kernel, kernel);
  int64_t rank =
      spec.rank > 0
          ? int64_t(spec.rank)
          : std::max<int64_t>(1, std::llround(spec.rank_ratio * double(full)));
  return std::min(rank, full);
}

RankChoice RankChoice::fixed(int64_t rank) {
  RankChoice c;
  c.rank = rank;
  return c;
}

RankChoice RankChoice::energy(double fraction) {
  RankChoice c;
  c.energy_fraction = fraction;
  return c;
}

int64_t choose_rank(const torch::Tensor& singular_values, RankChoice choice) {
  int64_t full = singular_values.numel();
  if (choice.rank > 0) return std::min(choice.rank, full);
  double fraction = choice.energy_fraction;
  if (!(fraction > 0.0 && fraction <= 1.0)) {
    throw ConfigError(fmt::format(
        "low-rank decomposition: give a rank >= 1 or an energy fraction in "
        "(0, 1], got rank {} and fraction {}",
        choice.rank, fraction));
  }
  auto energy = singular_values.to(torch::kFloat64).square().cumsum(0);
  double total = energy[full - 1].item<double>();
  if (total <= 0.0) return 1;
  // The first index whose cumulative energy reaches the target (the last
  // always does, since `total` is the last sum).
  auto reached = (energy >= fraction * total).nonzero();
  if (reached.numel() == 0) return full;
  return std::min(full, reached[0][0].item<int64_t>() + 1);
}

LowRankConv2d low_rank_from_conv(const torch::nn::Conv2d& conv,
                                 RankChoice choice) {
  const auto& co = conv->options;
  if (co.groups() != 1) {
    throw ConfigError(fmt::format(
        "low_rank_from_conv: cannot decompose a grouped convolution "
        "(groups={}); its weight is block-diagonal, not one out × in·k·k "
        "matrix",
        co.groups()));
  }
  torch::NoGradGuard no_grad;
  const auto& w = conv->weight;
  auto k = *co.kernel_size();
  int64_t out = co.out_channels();
  auto matrix = w.detach().to(torch::kFloat64).reshape({out, -1});
  auto [u, s, vh] = torch::linalg::svd(matrix, /*full_matrices=*/false,
                                       /*driver=*/c10::nullopt);
  int64_t r = choose_rank(s, choice);
  auto root = s.slice(0, 0, r).sqrt();

  LowRankConv2d result(
      LowRankConv2dOptions(co.in_channels(), out, r, co.kernel_size())
          .stride(co.stride())
          .padding(co.padding())
          .padding_mode(co.padding_mode())
          .dilation(co.dilation())
          .bias(co.bias()));
  result->to(w.device(), w.scalar_type());
  auto first = root.unsqueeze(1) * vh.slice(0, 0, r);
  auto second = u.slice(1, 0, r) * root.unsqueeze(0);
  result->first->weight.copy_(first.reshape({r, co.in_channels(), k[0], k[1]}));
  result->second->weight.copy_(second.reshape({out, r, 1, 1}));
  if (co.bias()) result->second->bias.copy_(conv->bias);
  result->train(conv->is_training());
  return result;
}

}  // namespace adascale::operators

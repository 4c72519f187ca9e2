#include "operators/elastic_net.h"

#include <fmt/format.h>

#include "core/error.h"
#include "operators/conv_bn_act.h"
#include "operators/operator_registry.h"

namespace adascale::operators {

ElasticNetImpl::ElasticNetImpl(core::ModelSpec spec)
    : spec_(std::move(spec)), space_(spec_) {
  reset();
}

void ElasticNetImpl::reset() {
  // Cloneable::clone() calls reset() on a copy: start from empty handles.
  candidates.clear();
  exits.clear();
  const core::StemSpec& s = spec_.stem;
  stem = register_module(
      "stem", torch::nn::Sequential(ConvBnAct(
                  ConvBnActOptions(spec_.in_channels, s.channels, s.kernel)
                      .stride(s.stride)
                      .act(parse_activation(s.act)))));
  int in = s.channels;
  for (size_t i = 0; i < spec_.stages.size(); ++i) {
    const core::StageSpec& stage = spec_.stages[i];
    std::vector<torch::nn::Sequential> stage_candidates;
    for (const core::CandidateSpec& cand : stage.candidates) {
      torch::nn::Sequential blocks;
      for (int b = 0; b < cand.depth; ++b) {
        core::OperatorSpec op = cand.op;
        op.in_channels = b == 0 ? in : stage.out_channels;
        op.out_channels = stage.out_channels;
        op.stride = b == 0 ? stage.stride : 1;
        blocks->push_back(make_operator(op));
      }
      // Flat names ("stage2_ghost") keep Cloneable::clone() in step with
      // the typed handles; they also read well in parameter paths.
      stage_candidates.push_back(
          register_module(fmt::format("stage{}_{}", i + 1, cand.name), blocks));
    }
    candidates.push_back(std::move(stage_candidates));
    exits.push_back(register_module(
        fmt::format("exit{}", i + 1),
        ExitHead(ExitHeadOptions(stage.out_channels,
                                 core::exit_channels(spec_, i), spec_.classes)
                     .dropout(spec_.dropout)
                     .conv(stage.exit_head == "conv"))));
    in = stage.out_channels;
  }
}

torch::Tensor ElasticNetImpl::forward_stem(torch::Tensor x) {
  return stem->forward(x);
}

torch::Tensor ElasticNetImpl::forward_stage(torch::Tensor x, int stage,
                                            int candidate) {
  return candidates.at(size_t(stage)).at(size_t(candidate))->forward(x);
}

torch::Tensor ElasticNetImpl::forward_exit(const torch::Tensor& features,
                                           int stage) {
  return exits.at(size_t(stage))->forward(features);
}

torch::Tensor ElasticNetImpl::forward(torch::Tensor x,
                                      const core::Variant& variant) {
  space_.check(variant);
  x = forward_prefix(x, variant.choices, variant.exit + 1);
  return forward_exit(x, variant.exit);
}

torch::Tensor ElasticNetImpl::forward_prefix(torch::Tensor x,
                                             const std::vector<int>& choices,
                                             int stages) {
  if (stages < 0 || stages > num_stages() || int(choices.size()) < stages) {
    throw UsageError(fmt::format("prefix of {} stages needs {} choices, got {}",
                                 stages, stages, choices.size()));
  }
  x = forward_stem(x);
  for (int s = 0; s < stages; ++s) x = forward_stage(x, s, choices[size_t(s)]);
  return x;
}

std::vector<torch::Tensor> ElasticNetImpl::forward_exits(
    torch::Tensor x, const std::vector<int>& choices) {
  space_.check(core::Variant{num_stages() - 1, choices});
  std::vector<torch::Tensor> logits;
  x = forward_stem(x);
  for (int s = 0; s < num_stages(); ++s) {
    x = forward_stage(x, s, choices[size_t(s)]);
    logits.push_back(forward_exit(x, s));
  }
  return logits;
}

std::vector<torch::Tensor> ElasticNetImpl::forward_candidates(
    const torch::Tensor& prefix, int stage, const std::vector<int>& cands) {
  std::vector<torch::Tensor> logits;
  for (int c : cands) {
    logits.push_back(forward_exit(forward_stage(prefix, stage, c), stage));
  }
  return logits;
}

std::vector<torch::Tensor> ElasticNetImpl::variant_parameters(
    const core::Variant& v) const {
  space_.check(v);
  std::vector<torch::Tensor> params = stem->parameters();
  for (size_t s = 0; s < v.choices.size(); ++s) {
    auto p = candidates[s][size_t(v.choices[s])]->parameters();
    params.insert(params.end(), p.begin(), p.end());
  }
  auto p = exits[size_t(v.exit)]->parameters();
  params.insert(params.end(), p.begin(), p.end());
  return params;
}

std::shared_ptr<torch::nn::Module> ElasticNetImpl::variant_members(
    const core::Variant& v) {
  space_.check(v);
  auto used = std::make_shared<torch::nn::Module>("ElasticNetVariant");
  used->register_module("stem", stem);
  for (size_t s = 0; s < v.choices.size(); ++s) {
    const size_t c = size_t(v.choices[s]);
    used->register_module(
        fmt::format("stage{}_{}", s + 1, space_.candidates(s)[c]),
        candidates[s][c]);
  }
  used->register_module(fmt::format("exit{}", v.exit + 1),
                        exits[size_t(v.exit)]);
  return used;
}

}  // namespace adascale::operators

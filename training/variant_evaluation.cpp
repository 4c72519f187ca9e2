#include "training/variant_evaluation.h"

#include <torch/torch.h>

#include <map>

#include "core/error.h"

namespace adascale::training {
namespace {

/// Depth-first walk of the variant tree for one batch.
void walk(operators::ElasticNet& net, const torch::Tensor& features, int stage,
          std::vector<int>& choices, const torch::Tensor& labels,
          std::map<uint64_t, AccuracyMeter>& meters) {
  const auto& space = net->variants();
  const int candidates = int(space.candidates(size_t(stage)).size());
  for (int c = 0; c < candidates; ++c) {
    choices.push_back(c);
    torch::Tensor h = net->forward_stage(features, stage, c);
    torch::Tensor logits = net->forward_exit(h, stage);
    double loss =
        torch::nn::functional::cross_entropy(logits, labels).item<double>();
    meters[space.pack(core::Variant{stage, choices})].add(logits, labels, loss);
    if (stage + 1 < net->num_stages()) {
      walk(net, h, stage + 1, choices, labels, meters);
    }
    choices.pop_back();
  }
}

/// Batches of `loader` (epoch 0) until `max_images` (0 = all), trimmed.
template <typename Fn>
void for_batches(datasets::DataLoader& loader, int64_t max_images, Fn fn) {
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = loader.next()) {
    torch::Tensor x = batch->images;
    torch::Tensor y = batch->labels;
    if (max_images > 0 && seen + y.size(0) > max_images) {
      int64_t keep = max_images - seen;
      x = x.narrow(0, 0, keep);
      y = y.narrow(0, 0, keep);
    }
    if (y.size(0) == 0) break;
    fn(x, y);
    seen += y.size(0);
    if (max_images > 0 && seen >= max_images) break;
  }
}

}  // namespace

std::vector<Accuracy> evaluate_variants(operators::ElasticNet& net,
                                        datasets::DataLoader& loader,
                                        int64_t max_images) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::map<uint64_t, AccuracyMeter> meters;
  for_batches(loader, max_images,
              [&](const torch::Tensor& x, const torch::Tensor& y) {
                std::vector<int> choices;
                walk(net, net->forward_stem(x), 0, choices, y, meters);
              });
  std::vector<Accuracy> out;
  for (const auto& v : net->variants().all()) {
    out.push_back(meters[net->variants().pack(v)].result());
  }
  return out;
}

ExitOutputs collect_exit_outputs(operators::ElasticNet& net,
                                 const std::vector<int>& trunk,
                                 datasets::DataLoader& loader,
                                 int64_t max_images) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<std::vector<torch::Tensor>> probs(trunk.size());
  std::vector<torch::Tensor> labels;
  for_batches(loader, max_images,
              [&](const torch::Tensor& x, const torch::Tensor& y) {
                auto logits = net->forward_exits(x, trunk);
                for (size_t e = 0; e < logits.size(); ++e) {
                  probs[e].push_back(torch::softmax(logits[e], 1));
                }
                labels.push_back(y);
              });
  ExitOutputs out;
  if (labels.empty()) throw DataError("evaluation split holds no images");
  for (auto& p : probs) out.probabilities.push_back(torch::cat(p));
  out.labels = torch::cat(labels);
  return out;
}

std::vector<EarlyExitPoint> early_exit_curve(
    const ExitOutputs& outputs, const std::vector<double>& cumulative_macs,
    const std::vector<double>& thresholds) {
  const size_t exits = outputs.probabilities.size();
  if (cumulative_macs.size() != exits) {
    throw InternalError("early_exit_curve: one cost per exit expected");
  }
  const int64_t n = outputs.labels.size(0);
  std::vector<torch::Tensor> confidence, correct;
  for (const auto& p : outputs.probabilities) {
    auto [conf, pred] = p.max(1);
    confidence.push_back(conf);
    correct.push_back(pred.eq(outputs.labels));
  }
  std::vector<EarlyExitPoint> curve;
  for (double t : thresholds) {
    EarlyExitPoint point;
    point.threshold = t;
    point.exit_share.assign(exits, 0.0);
    auto undecided =
        torch::ones({n}, outputs.labels.options().dtype(torch::kBool));
    double hits = 0.0, macs = 0.0;
    for (size_t e = 0; e < exits; ++e) {
      auto leave = e + 1 == exits ? undecided
                                  : undecided.logical_and(confidence[e] >= t);
      const double leaving = leave.sum().item<double>();
      hits += correct[e].logical_and(leave).sum().item<double>();
      macs += leaving * cumulative_macs[e];
      point.exit_share[e] = leaving / double(n);
      undecided = undecided.logical_and(leave.logical_not());
    }
    point.top1 = hits / double(n);
    point.mean_macs = macs / double(n);
    curve.push_back(point);
  }
  return curve;
}

}  // namespace adascale::training

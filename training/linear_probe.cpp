#include "training/linear_probe.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/error.h"

namespace adascale::training {
namespace {

/// Pooled features (N×C per depth) and labels of one pass over `loader`.
struct Features {
  std::vector<std::vector<torch::Tensor>> chunks;
  std::vector<torch::Tensor> labels;
};

Features pool_features(operators::ElasticNet& net,
                       const std::vector<int>& trunk,
                       datasets::DataLoader& loader, int64_t max_images,
                       std::vector<std::string>* names) {
  torch::NoGradGuard no_grad;
  net->eval();
  Features f;
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = loader.next()) {
    std::vector<torch::Tensor> pooled;
    auto pool = [&](const torch::Tensor& h, const std::string& name) {
      pooled.push_back(h.mean({2, 3}));
      if (names != nullptr && f.labels.empty()) names->push_back(name);
    };
    torch::Tensor h = net->forward_stem(batch->images);
    pool(h, "stem");
    for (size_t s = 0; s < trunk.size(); ++s) {
      int b = 0;
      for (auto& block : *net->candidates[s][size_t(trunk[s])]) {
        h = block.forward(h);
        pool(h, fmt::format("stage{}.block{}", s + 1, ++b));
      }
    }
    if (f.chunks.empty()) f.chunks.resize(pooled.size());
    for (size_t d = 0; d < pooled.size(); ++d) f.chunks[d].push_back(pooled[d]);
    f.labels.push_back(batch->labels);
    seen += batch->labels.size(0);
    if (max_images > 0 && seen >= max_images) break;
  }
  if (f.labels.empty()) throw DataError("probe: a split holds no images");
  return f;
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return logits.argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
}

}  // namespace

std::vector<ProbeResult> run_linear_probes(operators::ElasticNet& net,
                                           const std::vector<int>& trunk,
                                           datasets::DataLoader& train,
                                           datasets::DataLoader& test,
                                           const ProbeOptions& options) {
  std::vector<std::string> names;
  Features tr = pool_features(net, trunk, train, options.max_images, &names);
  Features te = pool_features(net, trunk, test, options.max_images, nullptr);
  const torch::Tensor ytr = torch::cat(tr.labels);
  const torch::Tensor yte = torch::cat(te.labels);
  const int64_t classes = net->spec().classes;
  std::vector<ProbeResult> results;
  for (size_t d = 0; d < names.size(); ++d) {
    torch::Tensor xtr = torch::cat(tr.chunks[d]);
    torch::Tensor xte = torch::cat(te.chunks[d]);
    // Standardise with training statistics so one learning rate fits all
    // depths.
    auto mean = xtr.mean(0, true);
    auto std = xtr.std(0, true, true).clamp_min(1e-6);
    xtr = (xtr - mean) / std;
    xte = (xte - mean) / std;
    torch::nn::Linear probe(xtr.size(1), classes);
    probe->to(xtr.device());  // where the features were computed
    torch::optim::Adam opt(probe->parameters(),
                           torch::optim::AdamOptions(options.lr)
                               .weight_decay(options.weight_decay));
    const int64_t n = xtr.size(0);
    torch::Generator gen = at::detail::createCPUGenerator(uint64_t(d) + 1);
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
      // Drawn on the CPU (the generator's device), used on the features'.
      auto order = torch::randperm(n, gen, torch::kLong).to(xtr.device());
      for (int64_t i = 0; i < n; i += options.batch_size) {
        auto idx =
            order.narrow(0, i, std::min<int64_t>(options.batch_size, n - i));
        auto loss = torch::nn::functional::cross_entropy(
            probe(xtr.index_select(0, idx)), ytr.index_select(0, idx));
        opt.zero_grad();
        loss.backward();
        opt.step();
      }
    }
    torch::NoGradGuard no_grad;
    ProbeResult r;
    r.depth = int(d);
    r.block = names[d];
    r.channels = int(xtr.size(1));
    r.train_top1 = accuracy(probe(xtr), ytr);
    r.test_top1 = accuracy(probe(xte), yte);
    results.push_back(r);
  }
  return results;
}

}  // namespace adascale::training

#include "training/evaluation.h"

namespace adascale::training {
namespace {

template <typename Forward>
std::vector<Accuracy> evaluate(datasets::DataLoader& loader, size_t heads,
                               double label_smoothing, Forward forward,
                               int64_t max_images = 0) {
  torch::NoGradGuard no_grad;
  std::vector<AccuracyMeter> meters(heads);
  auto options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
          label_smoothing);
  loader.start_epoch(0);
  int64_t seen = 0;
  while (auto batch = loader.next()) {
    torch::Tensor images = batch->images, labels = batch->labels;
    if (max_images > 0 && seen + images.size(0) > max_images) {
      images = images.narrow(0, 0, max_images - seen);
      labels = labels.narrow(0, 0, max_images - seen);
    }
    seen += images.size(0);
    auto logits = forward(images);
    for (size_t h = 0; h < heads; ++h) {
      const torch::Tensor l = logits[h];
      double loss = torch::nn::functional::cross_entropy(l, labels, options)
                        .item<double>();
      meters[h].add(l, labels, loss);
    }
    if (max_images > 0 && seen >= max_images) break;
  }
  std::vector<Accuracy> out;
  for (const auto& m : meters) out.push_back(m.result());
  return out;
}

}  // namespace

std::vector<Accuracy> evaluate_heads(Trainee& trainee, int stage,
                                     const std::vector<int>& trunk,
                                     datasets::DataLoader& loader,
                                     double label_smoothing) {
  trainee.set_mode(stage, trunk, /*training=*/false);
  size_t heads = trainee.heads(stage, trunk).size();
  return evaluate(loader, heads, label_smoothing, [&](const torch::Tensor& x) {
    return trainee.forward_heads(stage, trunk, x, /*training=*/false);
  });
}

std::vector<Accuracy> evaluate_exits(Trainee& trainee,
                                     const std::vector<int>& trunk, int exits,
                                     datasets::DataLoader& loader,
                                     int64_t max_images) {
  trainee.set_mode(0, trunk, /*training=*/false);
  return evaluate(
      loader, size_t(exits), 0.0,
      [&](const torch::Tensor& x) {
        return trainee.forward_exits(trunk, x, exits);
      },
      max_images);
}

}  // namespace adascale::training

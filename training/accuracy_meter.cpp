#include "training/accuracy_meter.h"

#include <torch/torch.h>

#include <algorithm>

namespace adascale::training {

void AccuracyMeter::add(const at::Tensor& logits, const at::Tensor& labels,
                        double loss) {
  const int64_t n = labels.size(0);
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  auto top = std::get<1>(logits.detach().topk(k, 1));
  auto hits = top.eq(labels.view({-1, 1}));
  top1_correct += hits.select(1, 0).sum().item<int64_t>();
  top5_correct += hits.any(1).sum().item<int64_t>();
  loss_sum += loss * double(n);
  samples += n;
}

Accuracy AccuracyMeter::result() const {
  Accuracy a;
  a.samples = samples;
  if (samples == 0) return a;
  a.loss = loss_sum / double(samples);
  a.top1 = double(top1_correct) / double(samples);
  a.top5 = double(top5_correct) / double(samples);
  return a;
}

}  // namespace adascale::training

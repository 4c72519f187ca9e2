#pragma once
/// Branch-placement probes (paper §III-A2): a linear classifier on the
/// globally pooled features after every block of the trained trunk shows
/// how much class information each depth holds, i.e. where an exit pays.

#include <string>
#include <vector>

#include "datasets/data_loader.h"
#include "operators/elastic_net.h"

namespace adascale::training {

struct ProbeOptions {
  int epochs = 30;  ///< passes over the cached features
  int batch_size = 256;
  double lr = 0.01;  ///< Adam
  double weight_decay = 1e-4;
  int64_t max_images = 0;  ///< cap per split (0 = all)
};

/// Accuracy of the probe after one block.
struct ProbeResult {
  int depth = 0;      ///< 0 = stem, then blocks along the trunk
  std::string block;  ///< "stem", "stage2.block1" ...
  int channels = 0;
  double train_top1 = 0.0;
  double test_top1 = 0.0;
};

/// Pools the features after the stem and every trunk block over `train`
/// (one epoch) and `test`, fits one linear probe per depth and scores it.
std::vector<ProbeResult> run_linear_probes(operators::ElasticNet& net,
                                           const std::vector<int>& trunk,
                                           datasets::DataLoader& train,
                                           datasets::DataLoader& test,
                                           const ProbeOptions& options);

}  // namespace adascale::training

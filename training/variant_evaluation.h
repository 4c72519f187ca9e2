#pragma once
/// Accuracy of every variant of an elastic net, and the confidence-based
/// early-exit curve of its trunk.
///
/// All variants share prefixes, so the variant tree is walked depth first
/// once per batch: each stage-k feature map is computed once and reused by
/// every variant that extends it (500 variants cost about one forward pass
/// per tree node, not one per variant).

#include <cstdint>
#include <vector>

#include "datasets/data_loader.h"
#include "operators/elastic_net.h"
#include "training/accuracy_meter.h"

namespace adascale::training {

/// Top-1/top-5 of every variant, in VariantSpace::all() order, over one
/// pass of `loader` (at most `max_images`; 0 = all).
std::vector<Accuracy> evaluate_variants(operators::ElasticNet& net,
                                        datasets::DataLoader& loader,
                                        int64_t max_images = 0);

/// Softmax confidence of every exit along a fixed path, and the labels.
struct ExitOutputs {
  std::vector<at::Tensor> probabilities;  ///< per exit: N×classes
  at::Tensor labels;                      ///< N
};

/// Runs the path `trunk` (one choice per stage) over `loader`.
ExitOutputs collect_exit_outputs(operators::ElasticNet& net,
                                 const std::vector<int>& trunk,
                                 datasets::DataLoader& loader,
                                 int64_t max_images = 0);

/// One point of the early-exit curve.
struct EarlyExitPoint {
  double threshold = 0.0;
  double top1 = 0.0;
  double mean_macs = 0.0;          ///< per image, the exits evaluated included
  std::vector<double> exit_share;  ///< fraction of images leaving at exit k
};

/// Each image leaves at the first exit whose top softmax probability is at
/// least the threshold (the last exit otherwise). `cumulative_macs[k]` is
/// the cost of reaching and evaluating exit k having evaluated exits < k.
std::vector<EarlyExitPoint> early_exit_curve(
    const ExitOutputs& outputs, const std::vector<double>& cumulative_macs,
    const std::vector<double>& thresholds);

}  // namespace adascale::training

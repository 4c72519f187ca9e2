#pragma once
/// Measured latency of many variants of one elastic net (paper §IV-B:
/// the runtime half of latency prediction needs real latencies).
///
/// Protocol: warm-up passes, then `passes` passes over *all* variants,
/// one timed forward per variant per pass, each pass starting at a
/// different variant; the latency of a variant is the median over passes.
/// Timing variants one after another instead (all repeats of one, then the
/// next) lets slow drifts of the machine's speed (a noisy neighbour on a
/// VM, turbo budgets) land on whole groups of variants, which no model can
/// predict; interleaving spreads the drift over every variant alike. Half
/// the passes against the other half give the measurement's own
/// repeatability, the ceiling of any predictor's accuracy.

#include <cstdint>
#include <vector>

#include "core/variant.h"
#include "operators/elastic_net.h"

namespace adascale::search {

struct VariantLatencies {
  std::vector<double> median_ms;  ///< per variant, in the order given
  /// Share of variants whose median over the even passes lies within ±10%
  /// of the one over the odd passes (NaN with fewer than 2 passes).
  double retest_within_10pct = 0;
  /// Load other programs put on the CPU meanwhile, [0, 1] (core/cpu_load).
  double background_load = 0;
  double seconds = 0;
};

/// Times `net->forward(x, v)` for every variant on a random batch of
/// `batch` images, under NoGradGuard in eval mode. Throws UsageError for
/// batch < 1 or passes < 1.
VariantLatencies measure_variant_latencies(
    operators::ElasticNet& net, const std::vector<core::Variant>& variants,
    int64_t batch, int passes, int warmup_passes = 2);

}  // namespace adascale::search

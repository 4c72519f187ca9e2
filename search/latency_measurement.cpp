#include "search/latency_measurement.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/compute_device.h"
#include "core/cpu_load.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/order_statistics.h"
#include "core/timing.h"

namespace adascale::search {

VariantLatencies measure_variant_latencies(
    operators::ElasticNet& net, const std::vector<core::Variant>& variants,
    int64_t batch, int passes, int warmup_passes) {
  if (batch < 1 || passes < 1) {
    throw UsageError(
        fmt::format("latency measurement: batch {} and passes {} must be ≥ 1",
                    batch, passes));
  }
  const core::ModelSpec& spec = net->spec();
  torch::NoGradGuard no_grad;
  const bool training = net->is_training();
  net->eval();
  // Measured where the net lives (the run's device).
  const c10::Device device = net->parameters().empty()
                                 ? c10::Device(c10::kCPU)
                                 : net->parameters().front().device();
  torch::Tensor x =
      torch::randn({batch, spec.in_channels, spec.resolution, spec.resolution})
          .to(device);
  const size_t n = variants.size();
  std::vector<std::vector<double>> samples(n);
  core::Stopwatch total;
  auto before = core::read_cpu_times();
  for (int pass = -warmup_passes; pass < passes; ++pass) {
    // Rotate the starting variant so no variant always follows the same one.
    const size_t start =
        pass < 0 ? 0 : size_t(pass) * 7919 % std::max<size_t>(n, 1);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = (start + k) % n;
      core::Stopwatch watch;
      net->forward(x, variants[i]);
      core::synchronize(device);
      if (pass >= 0) samples[i].push_back(watch.milliseconds());
    }
    if (pass >= 0 && (pass + 1) % 5 == 0)
      log::info("measured pass {}/{} over {} variants at batch {}", pass + 1,
                passes, n, batch);
  }
  VariantLatencies out;
  out.background_load = core::background_load(before, core::read_cpu_times());
  if (std::isnan(out.background_load)) out.background_load = 0;
  out.retest_within_10pct = std::numeric_limits<double>::quiet_NaN();
  size_t agree = 0;
  for (const auto& s : samples) {
    out.median_ms.push_back(core::median(s));
    if (passes >= 2) {
      std::vector<double> even, odd;
      for (size_t p = 0; p < s.size(); ++p)
        (p % 2 ? odd : even).push_back(s[p]);
      double a = core::median(even), b = core::median(odd);
      if (std::abs(a - b) <= 0.10 * b) ++agree;
    }
  }
  if (passes >= 2 && n > 0) out.retest_within_10pct = double(agree) / double(n);
  out.seconds = total.seconds();
  net->train(training);
  return out;
}

}  // namespace adascale::search

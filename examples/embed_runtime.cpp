// AdaScale embedded in an application: the ten lines docs/runtime.md shows,
// around a loop that classifies one image again and again while the runtime
// adapts the variant to the machine's load.
//
//   build/bin/embed_runtime BUNDLE [BUDGET_MS] [ITERATIONS]
//
// An application would pass its own images, normalised as the bundle says
// (rt.bundle().normalization); this one makes a random one of the right
// shape.

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "runtime/adaptive_runtime.h"

namespace {

// A positive number, or a one-line error naming the argument.
double positive(const char* name, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(v > 0) || !std::isfinite(v)) {
    throw std::invalid_argument(
        fmt::format("{} must be a number > 0, got '{}'", name, text));
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    fmt::print(stderr,
               "usage: embed_runtime BUNDLE [BUDGET_MS] [ITERATIONS]\n");
    return 2;
  }
  try {
    using namespace adascale;
    const double budget_ms = argc > 2 ? positive("BUDGET_MS", argv[2]) : 10;
    const double count = argc > 3 ? positive("ITERATIONS", argv[3]) : 200;
    if (count < 1 || count > 1e9 || count != std::floor(count)) {
      throw std::invalid_argument(fmt::format(
          "ITERATIONS must be a whole number in [1, 1e9], got '{}'", argv[3]));
    }
    const int iterations = int(count);

    // --- the ten lines (docs/runtime.md) ---
    runtime::RuntimeOptions options;       // defaults: 10 Hz monitor, AR|naive
    options.policy.budget_ms = budget_ms;  // the latency budget per image
    auto rt = runtime::AdaptiveRuntime::open(argv[1], options);
    const core::ModelSpec& spec = rt.bundle().spec;
    torch::Tensor image =
        torch::randn({spec.in_channels, spec.resolution, spec.resolution});
    int64_t label = -1;
    for (int i = 0; i < iterations; ++i) {
      runtime::InferenceResult r = rt.infer(image);  // adapts as it runs
      label = r.logits.argmax(1).item<int64_t>();
    }
    runtime::RuntimeStats stats = rt.stats();
    // --- end ---

    fmt::print(
        "last class {}; {} inferences; running {}; {} decisions, {} "
        "switches; load {:.2f}, forecast {:.2f} ({})\n",
        rt.bundle().class_names.at(size_t(label)), stats.inferences,
        stats.variant, stats.loop.decisions, stats.loop.switches,
        stats.loop.load, stats.loop.forecast,
        runtime::to_string(stats.loop.forecast_model));
    return 0;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    fmt::print(stderr, "embed_runtime: error: {}\n",
               what.substr(0, what.find('\n')));
    return 1;
  }
}

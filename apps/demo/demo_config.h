#pragma once
/// What adascale-demo runs: its config, read from `--config demo.yaml` and
/// `--set key.path=value` (configs/demo/default.yaml lists every key with
/// its default). The runtime's part is runtime::RuntimeOptions as an
/// application embedding the runtime reads it; the schema checks every
/// value, so a bad one is a ConfigError naming the file or --set, the key
/// and the value.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/checks.h"
#include "runtime/adaptive_runtime.h"

namespace adascale::demo {

/// `engine:` how the adaptive engine builds its blocks.
struct DemoEngineConfig {
  std::string block_mode = "fastest";  ///< fastest | eager | optimized
  std::string backend = "auto";        ///< auto | onednn | xnnpack
  std::string precision = "fp32";      ///< fp32 | int8
  int64_t calibration_images = 256;    ///< held-out images for int8 ranges

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("block_mode", block_mode,
      check::one_of({"fastest", "eager", "optimized"}),
      "engine blocks: the fastest form each, eager, or optimised graphs");
    v("backend", backend, check::one_of({"auto", "onednn", "xnnpack"}),
      "library of the optimised blocks: auto (timed on the trunk at "
      "start-up), onednn or xnnpack");
    v("precision", precision, check::one_of({"fp32", "int8"}),
      "int8: int8 blocks where faster and within 5% of the float output");
    v("calibration_images", calibration_images,
      check::in_range<int64_t>(1, 100'000),
      "precision int8: held-out images that set the int8 ranges");
  }
};

/// The demo's runtime options: RuntimeOptions, except that variants under
/// 50% validation top-1 never run (a deployment would not ship them).
inline runtime::RuntimeOptions demo_runtime_defaults() {
  runtime::RuntimeOptions options;
  options.min_accuracy = 0.5;
  return options;
}

/// The whole demo config (the root `--set` keys start at).
/// `mode:` which phases the demo runs.
enum class DemoPhases { kBoth, kAdaptive, kStatic };
constexpr std::array<std::pair<DemoPhases, const char*>, 3> spellings(
    DemoPhases) {
  return {{{DemoPhases::kBoth, "both"},
           {DemoPhases::kAdaptive, "adaptive"},
           {DemoPhases::kStatic, "static"}}};
}

struct DemoConfig {
  /// Background load trace (configs/traces/*.yaml); "" = idle.
  std::string trace;
  double duration_s = 60;  ///< seconds per phase
  double warmup_s = 2;     ///< seconds of untimed warm-up before each phase
  DemoPhases mode = DemoPhases::kBoth;
  /// The static baseline; "" = the trunk at the deepest trained exit.
  std::string static_variant;
  std::string data;   ///< dataset root; "" = the bundle's dataset.root
  int64_t limit = 0;  ///< at most this many test images; 0 = all
  std::string log_level = "warn";  ///< library messages on stderr
  DemoEngineConfig engine;
  runtime::RuntimeOptions runtime = demo_runtime_defaults();

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("trace", trace, "background load trace; \"\" = idle");
    v("duration_s", duration_s, check::finite(check::positive<double>()),
      "seconds per phase");
    v("warmup_s", warmup_s, check::finite(check::at_least(0.0)),
      "seconds of untimed warm-up");
    v("mode", mode, "phases to run: both | adaptive | static");
    v("static_variant", static_variant,
      "static baseline; \"\" = the trunk at the deepest exit");
    v("data", data, "dataset root; \"\" = the bundle's");
    v("limit", limit, check::at_least<int64_t>(0), "test images; 0 = all");
    v("log_level", log_level,
      check::one_of({"debug", "info", "warn", "error", "off"}),
      "library messages on stderr");
    v("engine", engine);
    v("runtime", runtime);
  }
};

/// Reads `path` (none: every default), applies `sets` ("a.b=value", keys
/// from the root of DemoConfig) in order and checks the result, the
/// runtime's cross-field rules included. Throws ConfigError naming the
/// file or --set, the key and the value.
DemoConfig load_demo_config(const std::optional<std::string>& path,
                            const std::vector<std::string>& sets);

/// The resolved config as YAML, every key with its value (written beside
/// the demo's results; `--config` reads it back).
std::string to_yaml(const DemoConfig& config);

}  // namespace adascale::demo

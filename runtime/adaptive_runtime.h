#pragma once
/// The adaptive runtime in one object: a bundle's engine, its variants'
/// rows, the resource monitor, forecaster, policy, thread governor and the
/// adaptation controller, built from one RuntimeOptions. Embedding AdaScale
/// in an application:
///
///     runtime::RuntimeOptions options;
///     options.policy.budget_ms = 10;
///     auto rt = runtime::AdaptiveRuntime::open("model.adascale", options);
///     torch::Tensor logits = rt.infer(image).logits;  // adapts as it runs
///     runtime::RuntimeStats stats = rt.stats();
///
/// (examples/embed_runtime.cpp). open() starts the adaptation loop: the
/// monitor samples the machine every period on its own thread and each
/// sample may switch the engine's variant and thread count; infer() runs
/// the variant chosen last and feeds its latency back. The parts stay
/// reachable (engine(), rows()) for programs that need more, such as the
/// demo's static baseline and the overhead benchmark.
///
/// infer() may run on one thread while the monitor's thread adapts; open,
/// start, reset, stop and set_policy belong to the owning thread and must
/// not run while another thread infers.

#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/config/checks.h"
#include "runtime/adaptation_controller.h"
#include "runtime/adaptation_policy.h"
#include "runtime/adaptive_engine.h"
#include "runtime/ar_forecaster.h"
#include "runtime/bundle.h"
#include "runtime/resource_monitor.h"
#include "runtime/thread_governor.h"
#include "runtime/variant_rows.h"

namespace adascale::runtime {

/// Everything AdaptiveRuntime builds from. The sections with visit() read
/// from YAML (read_runtime_options()); `engine` and `sampler` are C++ only.
struct RuntimeOptions {
  /// `policy:` budget, hysteresis, margin, objective, feedback, early exit.
  PolicyConfig policy;
  /// `forecast:` AR order, window, horizon and which forecast the policy
  /// uses (`model: ar|naive|best`).
  ForecastConfig forecast;
  /// `monitor:` sampling period, history, load-index weights.
  MonitorConfig monitor;
  /// `threads:` the thread governor (enabled by default).
  ThreadGovernorConfig governor;
  /// Intra-op threads at the start of a loop, and throughout one that only
  /// watches (start(false)) or has the governor disabled; 0 = every
  /// hardware thread. More than core::kMaxThreadsPerCore × the hardware
  /// threads is clamped at open(), with a logged notice.
  int intra_op_threads = 0;
  /// Latency quantile between decisions fed back to the policy, [0.5, 1].
  double feedback_quantile = 0.5;
  /// q of the latency bound the loop predicts for the running variant
  /// (runtime/latency_quantile.h), reported with how often it held.
  double predicted_quantile = 0.9;
  /// Variants whose validation top-1 is below this never run (nor do those
  /// without one): when nothing meets the budget the policy falls back to
  /// the fastest variant, which must still be worth running.
  double min_accuracy = 0;
  /// Device rows of the bundle's tables; "" = the measured device.
  std::string tables_device;
  /// Where the net runs: cpu, cuda, or auto (cuda where LibTorch sees a
  /// GPU). The CPU by default: the engine's block forms, int8 and thread
  /// choice are tuned for it, and a bundle's tables are measured there.
  std::string device = "cpu";
  /// Whether open() starts the loop (start(true)).
  bool autostart = true;
  /// How the engine is built (block forms, precision, calibration images,
  /// form cache, fusion).
  EngineOptions engine;
  /// Keep the engine's form decisions in the bundle's `engine_cache/`
  /// (form_cache_dir()) when `engine.form_cache_dir` is empty, so that only
  /// the first start on a machine times the blocks; false = decide at
  /// every start.
  bool form_cache = true;
  /// Where samples come from; empty = the machine (SystemSampler, NVML
  /// where it loads). Tests and trace replay inject their own.
  ResourceMonitor::Sampler sampler;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("policy", policy);
    v("forecast", forecast);
    v("monitor", monitor);
    v("threads", governor);
    v("intra_op_threads", intra_op_threads, check::in_range(0, 4096),
      "0 = all hardware threads");
    v("feedback_quantile", feedback_quantile, check::in_range(0.5, 1.0),
      "latency quantile fed back");
    v("predicted_quantile", predicted_quantile, check::in_range(0.5, 0.999),
      "q of the predicted latency bound");
    v("min_accuracy", min_accuracy, check::in_range(0.0, 1.0),
      "validation top-1 floor");
    v("tables_device", tables_device, "\"\" = the measured device");
    v("device", device, check::one_of({"auto", "cpu", "cuda"}),
      "where the net runs");
  }
};

/// Reads RuntimeOptions from a YAML file (keys of RuntimeOptions::visit;
/// unknown keys and bad values are ConfigErrors naming file, line and key).
RuntimeOptions read_runtime_options(const std::string& path);

/// Throws UsageError naming the option when a value is out of range.
void validate_runtime_options(const RuntimeOptions& options);

/// What the runtime has seen and done.
struct RuntimeStats {
  /// The adaptation loop: load, forecast (and both forecasters' errors),
  /// running variant, decisions, switches, feedback, threads, reflexes.
  ControllerStatus loop;
  /// The running variant's text form ("e2:basic.fire").
  std::string variant;
  /// Inferences since open() through infer(), either overload.
  int64_t inferences = 0;
  /// Monitor samples taken by the current loop's monitor.
  size_t samples = 0;
  /// Samples the sampler failed to take (logged, skipped).
  size_t sampling_errors = 0;
  /// Whether the monitor thread is running.
  bool running = false;
  /// Whether the loop adapts (start(true)) or only watches.
  bool adapting = false;
};

class AdaptiveRuntime {
 public:
  /// Loads and verifies the bundle at `bundle_dir` (runtime/bundle.h), then
  /// as open(LoadedBundle, options).
  static AdaptiveRuntime open(const std::string& bundle_dir,
                              RuntimeOptions options = {});
  /// Builds the engine over `bundle`'s net, the rows of the variants at or
  /// above min_accuracy from its tables, and, with `autostart`, starts the
  /// loop. Throws UsageError for bad options or when no variant reaches
  /// min_accuracy, DataError when the tables lack a variant or the device.
  static AdaptiveRuntime open(LoadedBundle bundle, RuntimeOptions options = {});

  AdaptiveRuntime(AdaptiveRuntime&&) noexcept;
  AdaptiveRuntime& operator=(AdaptiveRuntime&&) noexcept;
  /// Stops the monitor thread.
  ~AdaptiveRuntime();

  /// Classifies a normalised C×H×W image or N×C×H×W batch with the running
  /// variant and feeds the latency back to the loop (when it adapts). The
  /// logits come back on the images' device.
  InferenceResult infer(const torch::Tensor& images);
  /// Runs engine variant `variant` whatever the loop chose, feeding nothing
  /// back (a static baseline).
  InferenceResult infer(const torch::Tensor& images, size_t variant);

  /// Starts a fresh loop: a new controller (forecaster, policy with no
  /// feedback yet, governor) and monitor (empty history), and starts the
  /// monitor's thread. `adapt` false watches only: the loop still samples,
  /// forecasts and decides (stats() shows it), but infer(images, variant)
  /// is what a caller is expected to run, the thread count stays at
  /// intra_op_threads and early exit is off.
  void start(bool adapt = true);
  /// As start() without starting the thread: samples come only through
  /// feed() (tests, replaying recorded samples).
  void reset(bool adapt = true);
  /// Stops the monitor thread; the loop and its stats stay until the next
  /// start() or reset().
  void stop();
  /// Feeds one sample into the loop as the monitor thread does. Throws
  /// UsageError before the first start() or reset().
  void feed(const ResourceSample& sample);
  /// Replaces the policy config; it applies from the next start() or
  /// reset(). Validated here.
  void set_policy(const PolicyConfig& policy);

  RuntimeStats stats() const;

  AdaptiveEngine& engine();
  const AdaptiveEngine& engine() const;
  /// The policy's rows, one per usable variant (engine_index() maps them).
  const VariantRows& rows() const;
  /// The engine index of each row of rows().
  const std::vector<size_t>& engine_index() const;
  const LoadedBundle& bundle() const;
  const RuntimeOptions& options() const;

 private:
  struct Impl;
  explicit AdaptiveRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace adascale::runtime

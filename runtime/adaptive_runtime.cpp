#include "runtime/adaptive_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <thread>
#include <utility>

#include "core/compute_device.h"
#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/execution.h"
#include "runtime/system_sampler.h"
#include "search/performance_tables.h"

namespace adascale::runtime {

RuntimeOptions read_runtime_options(const std::string& path) {
  RuntimeOptions options =
      config::Reader::read_struct<RuntimeOptions>(config::load_file(path));
  validate_runtime_options(options);
  return options;
}

void validate_runtime_options(const RuntimeOptions& o) {
  validate_policy_config(o.policy);
  validate_forecast_config(o.forecast);
  validate_monitor_config(o.monitor);
  const ThreadGovernor governor(o.governor, 1);  // throws when out of range
  (void)governor;
  if (o.intra_op_threads < 0) {
    throw UsageError(fmt::format(
        "intra_op_threads: must be >= 0 (0 = all hardware threads), got {}",
        o.intra_op_threads));
  }
  if (!(o.feedback_quantile >= 0.5 && o.feedback_quantile <= 1.0)) {
    throw UsageError(fmt::format(
        "feedback_quantile: must be in [0.5, 1], got {}", o.feedback_quantile));
  }
  LatencyQuantileConfig bound;
  bound.quantile = o.predicted_quantile;
  validate_latency_quantile_config(bound);
  if (!(o.min_accuracy >= 0 && o.min_accuracy <= 1)) {
    throw UsageError(
        fmt::format("min_accuracy: must be in [0, 1], got {}", o.min_accuracy));
  }
}

struct AdaptiveRuntime::Impl {
  LoadedBundle bundle;
  RuntimeOptions options;
  std::unique_ptr<AdaptiveEngine> engine;
  VariantRows rows;
  std::vector<size_t> engine_index;
  // The monitor's thread calls into the controller: the monitor goes first
  // (declared after, destroyed before) and both are replaced only while the
  // monitor is stopped.
  std::unique_ptr<AdaptationController> controller;
  std::unique_ptr<ResourceMonitor> monitor;
  bool adapting = false;
  std::atomic<int64_t> inferences{0};

  // Intra-op threads at a loop's start: intra_op_threads, clamped at
  // open() by the rule of a run's `threads` (core::clamp_threads).
  int start_threads = 1;

  LatencyQuantileConfig bound_config() const {
    LatencyQuantileConfig c;
    c.quantile = options.predicted_quantile;
    return c;
  }

  void reset(bool adapt) {
    monitor.reset();
    controller.reset();
    engine->set_threads(start_threads);
    std::optional<ThreadGovernor> governor;
    if (adapt && options.governor.enabled) {
      governor.emplace(options.governor,
                       int(std::max(1u, std::thread::hardware_concurrency())));
    }
    controller = std::make_unique<AdaptationController>(
        *engine,
        AdaptationPolicy(rows.rows, rows.layers, rows.model, options.policy),
        engine_index, options.forecast, options.monitor.load_index,
        std::move(governor), options.feedback_quantile, bound_config());
    engine->set_early_exit_threshold(adapt ? options.policy.early_exit_threshold
                                           : 0.0);
    ResourceMonitor::Sampler source = options.sampler;
    if (!source) {
      // A fresh sampler per loop: its first CPU reading is over this loop's
      // time only.
      auto system = std::make_shared<SystemSampler>(SystemPaths{}, true);
      source = [system] { return system->sample(); };
    }
    monitor = std::make_unique<ResourceMonitor>(
        options.monitor, [this, source = std::move(source)] {
          ResourceSample s = source();
          controller->on_sample(s);
          return s;
        });
    adapting = adapt;
  }
};

AdaptiveRuntime::AdaptiveRuntime(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
AdaptiveRuntime::AdaptiveRuntime(AdaptiveRuntime&&) noexcept = default;
AdaptiveRuntime& AdaptiveRuntime::operator=(AdaptiveRuntime&&) noexcept =
    default;
AdaptiveRuntime::~AdaptiveRuntime() {
  if (impl_ && impl_->monitor) impl_->monitor->stop();
}

AdaptiveRuntime AdaptiveRuntime::open(const std::string& bundle_dir,
                                      RuntimeOptions options) {
  validate_runtime_options(options);  // before the bundle costs anything
  return open(load_bundle(bundle_dir), std::move(options));
}

AdaptiveRuntime AdaptiveRuntime::open(LoadedBundle bundle,
                                      RuntimeOptions options) {
  validate_runtime_options(options);
  auto impl = std::make_unique<Impl>();
  impl->bundle = std::move(bundle);
  impl->options = std::move(options);
  // The schema allows 4096 (a config moves between machines); a library
  // user's count is clamped as a run's `threads` is, not left to create
  // thousands of OpenMP threads at the first inference.
  impl->start_threads =
      impl->options.intra_op_threads > 0
          ? core::clamp_threads(impl->options.intra_op_threads,
                                "intra_op_threads")
          : int(std::max(1u, std::thread::hardware_concurrency()));
  // The engine times its forms at the calling thread's count: make it the
  // count the loop starts at (this also sizes LibTorch's pthreadpool, on
  // which XNNPACK blocks run).
  at::set_num_threads(impl->start_threads);
  impl->bundle.net->to(core::compute_device(impl->options.device));
  const LoadedBundle& b = impl->bundle;
  const RuntimeOptions& o = impl->options;
  EngineOptions engine_options = o.engine;
  if (o.form_cache && engine_options.form_cache_dir.empty()) {
    engine_options.form_cache_dir = form_cache_dir(b.dir);
  }
  impl->engine = std::make_unique<AdaptiveEngine>(b.net, engine_options);
  const AdaptiveEngine& engine = *impl->engine;

  std::vector<core::Variant> usable;
  for (const auto& v : b.manifest.variants) {
    if (!(v.validation_top1 >= o.min_accuracy)) continue;  // NaN too
    usable.push_back(engine.space().parse(v.id));
  }
  if (usable.empty()) {
    throw UsageError(fmt::format("min_accuracy: no variant of {} reaches {}",
                                 b.dir, o.min_accuracy));
  }
  impl->rows = variant_rows(search::read_tables(b.tables_path), engine.space(),
                            usable, o.tables_device, 1, b.tables_path);
  for (const search::SearchRow& row : impl->rows.rows) {
    impl->engine_index.push_back(engine.index_of_key(row.key));
  }
  AdaptiveRuntime rt(std::move(impl));
  if (rt.impl_->options.autostart) rt.start(true);
  return rt;
}

namespace {

// Logits come back where the images came from (the engine's device may be
// a GPU).
InferenceResult on_device_of(InferenceResult r, const torch::Tensor& images) {
  if (r.logits.device() != images.device()) {
    r.logits = r.logits.to(images.device());
  }
  return r;
}

}  // namespace

InferenceResult AdaptiveRuntime::infer(const torch::Tensor& images) {
  const torch::Tensor batch = images.dim() == 3 ? images.unsqueeze(0) : images;
  InferenceResult r = on_device_of(impl_->engine->infer(batch), images);
  impl_->inferences.fetch_add(1, std::memory_order_relaxed);
  if (impl_->controller && impl_->adapting) impl_->controller->observe(r);
  return r;
}

InferenceResult AdaptiveRuntime::infer(const torch::Tensor& images,
                                       size_t variant) {
  const torch::Tensor batch = images.dim() == 3 ? images.unsqueeze(0) : images;
  InferenceResult r =
      on_device_of(impl_->engine->infer(batch, variant), images);
  impl_->inferences.fetch_add(1, std::memory_order_relaxed);
  return r;
}

void AdaptiveRuntime::start(bool adapt) {
  impl_->reset(adapt);
  impl_->monitor->start();
}

void AdaptiveRuntime::reset(bool adapt) {
  impl_->reset(adapt);
}

void AdaptiveRuntime::stop() {
  if (impl_->monitor) impl_->monitor->stop();
}

void AdaptiveRuntime::feed(const ResourceSample& sample) {
  if (!impl_->controller) {
    throw UsageError(
        "AdaptiveRuntime::feed: no loop yet (call start or reset)");
  }
  impl_->controller->on_sample(sample);
}

void AdaptiveRuntime::set_policy(const PolicyConfig& policy) {
  validate_policy_config(policy);
  impl_->options.policy = policy;
}

RuntimeStats AdaptiveRuntime::stats() const {
  RuntimeStats s;
  const AdaptiveEngine& engine = *impl_->engine;
  if (impl_->controller) {
    s.loop = impl_->controller->status();
  } else {
    s.loop.variant = engine.active();
  }
  s.variant = engine.space().to_string(engine.variants()[s.loop.variant]);
  s.inferences = impl_->inferences.load(std::memory_order_relaxed);
  if (impl_->monitor) {
    s.samples = impl_->monitor->samples_taken();
    s.sampling_errors = impl_->monitor->sampling_errors();
    s.running = impl_->monitor->running();
  }
  s.adapting = impl_->adapting;
  return s;
}

AdaptiveEngine& AdaptiveRuntime::engine() {
  return *impl_->engine;
}
const AdaptiveEngine& AdaptiveRuntime::engine() const {
  return *impl_->engine;
}
const VariantRows& AdaptiveRuntime::rows() const {
  return impl_->rows;
}
const std::vector<size_t>& AdaptiveRuntime::engine_index() const {
  return impl_->engine_index;
}
const LoadedBundle& AdaptiveRuntime::bundle() const {
  return impl_->bundle;
}
const RuntimeOptions& AdaptiveRuntime::options() const {
  return impl_->options;
}

}  // namespace adascale::runtime

#include "runtime/adaptive_engine.h"

#include <fmt/format.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <torch/csrc/jit/passes/xnnpack_rewrite.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/compute_device.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/order_statistics.h"
#include "core/timing.h"
#include "runtime/graph_fusion.h"
#include "runtime/int8_quantizer.h"
#include "runtime/intra_op_threads.h"
#include "runtime/module_tracer.h"

namespace adascale::runtime {
namespace {

int64_t module_bytes(const torch::nn::Module& module) {
  int64_t bytes = 0;
  for (const auto& t : module.parameters()) bytes += t.nbytes();
  for (const auto& t : module.buffers()) bytes += t.nbytes();
  return bytes;
}

// LibTorch's MKL-DNN pass converts a graph's input to the MKL-DNN layout
// first and its output back to dense last. Between two optimised blocks
// both conversions are wasted work, so they are cut out of the graph here
// (before it ever runs: the executor compiles the graph on first use) and
// the engine converts only where the layout really changes.
struct Layout {
  bool mkldnn_in = false;
  bool mkldnn_out = false;
};

Layout strip_layout_conversions(torch::jit::Module& module) {
  static const auto to_mkldnn = c10::Symbol::fromQualString("aten::to_mkldnn");
  static const auto to_dense = c10::Symbol::fromQualString("aten::to_dense");
  auto graph = module.get_method("forward").graph();
  Layout layout;
  torch::jit::Value* in = graph->inputs().at(1);  // 0 is self
  if (in->uses().size() == 1 && in->uses()[0].user->kind() == to_mkldnn) {
    torch::jit::Node* convert = in->uses()[0].user;
    convert->output()->replaceAllUsesWith(in);
    convert->destroy();
    layout.mkldnn_in = true;
  }
  torch::jit::Value* out = graph->outputs().at(0);
  if (out->node()->kind() == to_dense && out->uses().size() == 1) {
    torch::jit::Node* convert = out->node();
    graph->return_node()->replaceInputWith(out, convert->input(0));
    convert->destroy();
    layout.mkldnn_out = true;
  }
  return layout;
}

torch::Tensor to_layout(const torch::Tensor& x, bool mkldnn) {
  if (x.is_mkldnn() == mkldnn) return x;
  return mkldnn ? x.to_mkldnn() : x.to_dense();
}

// The traced, frozen, optimised form of one block, checked against the
// eager form on `example`: an optimisation that changes the answer beyond
// float reordering is refused.
torch::jit::Module optimized_block(
    const std::string& name, const torch::jit::Module& traced,
    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
    const torch::Tensor& example, Layout& layout) {
  torch::jit::Module optimized = optimize_for_inference(traced);
  layout = strip_layout_conversions(optimized);
  torch::Tensor want = forward(example);
  torch::Tensor got = to_layout(
      optimized.forward({to_layout(example, layout.mkldnn_in)}).toTensor(),
      false);
  if (!torch::allclose(want, got, /*rtol=*/1e-3, /*atol=*/1e-4)) {
    throw ConfigError("optimised block " + name +
                      " disagrees with its eager form");
  }
  return optimized;
}

// The XNNPACK form of one block: LibTorch's optimize_for_mobile passes (BN
// folded, convolutions and linears prepacked for XNNPACK with their
// activations, add+relu fused, frozen), checked against the eager form as
// the optimised one is. It takes and returns dense tensors; its
// convolutions leave channels-last ones, which the next XNNPACK block reads
// without a copy.
torch::jit::Module xnnpack_block(
    const std::string& name, const torch::jit::Module& traced,
    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
    const torch::Tensor& example) {
  // Frozen first, as torch.utils.mobile_optimizer is used: freezing
  // inlines the weights, so the BN folding pass sees them as constants.
  torch::jit::Module copy = traced.clone();
  copy.eval();
  torch::jit::Module mobile =
      torch::jit::optimizeForMobile(torch::jit::freeze(copy));
  torch::Tensor want = forward(example);
  torch::Tensor got = mobile.forward({example}).toTensor();
  if (!torch::allclose(want, got, /*rtol=*/1e-3, /*atol=*/1e-4)) {
    throw ConfigError("XNNPACK block " + name +
                      " disagrees with its eager form");
  }
  return mobile;
}

// The int8 form of one block and its relative L2 error against the float
// form over the calibration images.
std::pair<torch::jit::Module, double> int8_block(
    const std::string& name, const torch::jit::Module& traced,
    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
    const std::vector<torch::Tensor>& calibration) {
  torch::jit::Module int8 = quantize_int8(traced, calibration, name);
  double error = 0, norm = 0;
  for (const auto& x : calibration) {
    torch::Tensor want = forward(x);
    torch::Tensor got = int8.forward({x}).toTensor();
    error += (got - want).pow(2).sum().item<double>();
    norm += want.pow(2).sum().item<double>();
  }
  return {int8, std::sqrt(error / std::max(norm, 1e-30))};
}

// Batch-1 times of each of `forms`, one sample per form and round. Every
// round runs every form once, back to back, so a burst of load or a drift
// of the machine's speed lands on all forms alike instead of on whichever
// was being timed; odd rounds run them in reverse, so no form always goes
// first (into a cold cache) or last.
std::vector<std::vector<double>> paired_rounds_ms(
    const std::vector<std::function<void()>>& forms, int rounds) {
  constexpr int kWarmup = 3;
  for (int i = 0; i < kWarmup; ++i) {
    for (const auto& f : forms) f();
  }
  std::vector<std::vector<double>> samples(forms.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t k = 0; k < forms.size(); ++k) {
      const size_t i = r % 2 == 0 ? k : forms.size() - 1 - k;
      core::Stopwatch clock;
      forms[i]();
      samples[i].push_back(clock.milliseconds());
    }
  }
  return samples;
}

// Sets the calling thread's thread teams as `backend`'s blocks run.
void set_backend_threads(Form backend, int n) {
  if (backend == Form::kXnnpack) {
    set_xnnpack_threads(n);
  } else {
    set_intra_op_threads(n);
  }
}

// paired_rounds_ms at each of `counts` intra-op thread counts:
// samples[count][form][round]. Every round visits every count (in
// alternating order) and at each one first runs forms[0] untimed, so that
// the cost of resizing the thread team falls on no form's sample: in use
// the count changes only when the variant does.
std::vector<std::vector<std::vector<double>>> paired_rounds_by_threads(
    const std::vector<std::function<void()>>& forms,
    const std::vector<int>& counts, int rounds, Form backend) {
  if (counts.size() == 1) return {paired_rounds_ms(forms, rounds)};
  constexpr int kWarmup = 3;
  for (int threads : counts) {
    set_backend_threads(backend, threads);
    for (int i = 0; i < kWarmup; ++i) {
      for (const auto& f : forms) f();
    }
  }
  std::vector<std::vector<std::vector<double>>> samples(
      counts.size(), std::vector<std::vector<double>>(forms.size()));
  for (int r = 0; r < rounds; ++r) {
    for (size_t j = 0; j < counts.size(); ++j) {
      const size_t c = r % 2 == 0 ? j : counts.size() - 1 - j;
      set_backend_threads(backend, counts[c]);
      forms[0]();
      for (size_t k = 0; k < forms.size(); ++k) {
        const size_t i = r % 2 == 0 ? k : forms.size() - 1 - k;
        core::Stopwatch clock;
        forms[i]();
        samples[c][i].push_back(clock.milliseconds());
      }
    }
  }
  set_backend_threads(backend, counts.front());
  return samples;
}

// 0 when a form was not timed (the report's convention).
double median_of(std::vector<double> v) {
  return v.empty() ? 0 : core::median(std::move(v));
}

// The engine settings a stored decision depends on besides the machine.
std::string decision_settings(const EngineOptions& o) {
  return fmt::format(
      "mode={} precision={} rounds={} alpha={} min_gain={} min_saving_ms={} "
      "int8_tolerance={} choose_threads={} backend={}",
      to_string(o.mode), to_string(o.precision), o.timing_repeats,
      o.choice.alpha, o.choice.min_gain, o.choice.min_saving_ms,
      o.int8_tolerance, o.choose_threads, to_string(o.backend));
}

// A batch-1 input that is the same at every start (fused forms are checked
// on it) without touching the global random generator.
torch::Tensor fixed_example(const core::ModelSpec& spec, torch::Device device) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20261202);
  return torch::randn({1, spec.in_channels, spec.resolution, spec.resolution},
                      gen, torch::TensorOptions())
      .to(device);
}

}  // namespace

Backend parse_backend(const std::string& text) {
  if (text == "auto") return Backend::kAuto;
  if (text == "onednn") return Backend::kOneDnn;
  if (text == "xnnpack") return Backend::kXnnpack;
  throw UsageError("engine backend '" + text +
                   "' is not one of auto, onednn, xnnpack");
}

std::string to_string(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kOneDnn:
      return "onednn";
    case Backend::kXnnpack:
      return "xnnpack";
  }
  return "?";
}

BlockMode parse_block_mode(const std::string& text) {
  if (text == "fastest") return BlockMode::kFastest;
  if (text == "eager") return BlockMode::kEager;
  if (text == "optimized") return BlockMode::kOptimized;
  throw UsageError("block mode '" + text +
                   "' is not one of fastest, eager, optimized");
}

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::kFloat32;
  if (text == "int8") return Precision::kInt8;
  throw UsageError("precision '" + text + "' is not one of fp32, int8");
}

std::string to_string(Precision precision) {
  return precision == Precision::kInt8 ? "int8" : "fp32";
}

std::string to_string(BlockMode mode) {
  switch (mode) {
    case BlockMode::kFastest:
      return "fastest";
    case BlockMode::kEager:
      return "eager";
    case BlockMode::kOptimized:
      return "optimized";
  }
  return "?";
}

std::string form_cache_dir(const std::string& bundle_dir) {
  return (std::filesystem::path(bundle_dir) / "engine_cache").string();
}

torch::Tensor AdaptiveEngine::Block::run(const torch::Tensor& x) const {
  if (optimized) {
    // jit::Module is a handle; the copy shares the compiled graph.
    torch::jit::Module module = *optimized;
    if (channels_last_in) {
      return module
          .forward(
              {to_layout(x, false).contiguous(at::MemoryFormat::ChannelsLast)})
          .toTensor();
    }
    return module.forward({to_layout(x, mkldnn_in)}).toTensor();
  }
  return eager_forward(to_layout(x, false));
}

torch::Tensor AdaptiveEngine::Fused::run(const torch::Tensor& x) const {
  torch::jit::Module m = module;
  return m.forward({to_layout(x, false)}).toTensor();
}

AdaptiveEngine::Block AdaptiveEngine::prepare(
    const std::string& name, std::shared_ptr<torch::nn::Module> module,
    std::function<torch::Tensor(const torch::Tensor&)> forward,
    const torch::Tensor& example, const std::vector<torch::Tensor>& calibration,
    const EngineOptions& options, const CachedForm* cached) {
  BlockReport report;
  report.name = name;
  Block block;
  block.id = reports_.size();
  block.eager = module;
  // The running form's per-round times at each of thread_counts_.
  std::vector<ThreadSamples> thread_samples;
  block.eager_forward = forward;
  // With a stored decision only the stored form is built: a cached start
  // neither times nor builds forms it will not run.
  // The engine's backend (backend_) decides which optimised form a block
  // gets: oneDNN's, choosing among it, eager and int8 by timing, or
  // XNNPACK's, with oneDNN's only where XNNPACK's does not build.
  const bool fastest = options.mode == BlockMode::kFastest;
  const bool on_xnnpack = backend_ == Form::kXnnpack;
  const bool want_xnnpack = options.mode != BlockMode::kEager && on_xnnpack &&
                            (!cached || cached->form == Form::kXnnpack);
  const bool want_float =
      options.mode != BlockMode::kEager &&
      (cached ? cached->form == Form::kOptimized : !on_xnnpack);
  const bool want_int8 = options.mode != BlockMode::kEager &&
                         options.precision == Precision::kInt8 &&
                         (!cached || cached->form == Form::kInt8);
  std::optional<torch::jit::Module> float_form, int8_form, xnnpack_form;
  Layout float_layout;
  if (want_float || want_int8 || want_xnnpack) {
    try {
      torch::jit::Module traced =
          trace_module(*module, forward, example, "block");
      if (want_xnnpack) {
        try {
          xnnpack_form = xnnpack_block(name, traced, forward, example);
        } catch (const Error& e) {
          if (cached) throw;
          log::info("engine: {} has no XNNPACK form, trying oneDNN's: {}", name,
                    e.what());
        }
      }
      if (want_float || (want_xnnpack && !xnnpack_form && !cached)) {
        float_form =
            optimized_block(name, traced, forward, example, float_layout);
      }
      if (want_int8) {
        try {
          auto [int8, error] = int8_block(name, traced, forward, calibration);
          report.int8_error = error;
          if (error <= options.int8_tolerance) {
            int8_form = int8;
          } else {
            log::info("engine: {} stays float: int8 error {:.3f} > {:.3f}",
                      name, error, options.int8_tolerance);
          }
        } catch (const ConfigError& e) {
          log::info("engine: {} stays float: {}", name, e.what());
        }
      }
    } catch (const Error& e) {
      // The fastest mode falls back to the eager block; the optimised mode
      // promised every block optimised.
      if (options.mode == BlockMode::kOptimized) throw;
      log::info("engine: {} runs eager: {}", name, e.what());
    }
  }

  Form form = Form::kEager;
  FormRule rule = FormRule::kMode;
  if (options.mode == BlockMode::kOptimized) {
    form = int8_form      ? Form::kInt8
           : xnnpack_form ? Form::kXnnpack
                          : Form::kOptimized;
  } else if (fastest && cached) {
    report.decided_by = cached->rule;
    report.eager_ms = cached->eager_ms;
    report.optimized_ms = cached->optimized_ms;
    report.int8_ms = cached->int8_ms;
    report.xnnpack_ms = cached->xnnpack_ms;
    report.p_value = cached->p_value;
    report.gain = cached->gain;
    thread_samples = cached->threads;
    rule = FormRule::kCache;
    form = cached->form;
    if ((form == Form::kOptimized && !float_form) ||
        (form == Form::kInt8 && !int8_form) ||
        (form == Form::kXnnpack && !xnnpack_form)) {
      // The stored form no longer builds (an int8 error over the tolerance
      // on other calibration images, say): the safe form instead, and the
      // cache is rewritten with it.
      form = Form::kEager;
      rule = FormRule::kFallback;
    }
  } else if (fastest && xnnpack_form) {
    // The XNNPACK backend: its form, timed at each thread count for the
    // variants' thread choice, between XNNPACK neighbours (channels-last in
    // and out). Not against eager or oneDNN forms in interleaved rounds:
    // XNNPACK's pthreadpool and OpenMP's team both spin-wait after a call,
    // and on a small machine each form then runs against the other's
    // spinning workers (the rounds read 3-4 ms for a 0.07 ms stem).
    const torch::Tensor x_cl =
        example.contiguous(at::MemoryFormat::ChannelsLast);
    Block b;
    b.optimized = xnnpack_form;
    b.channels_last_in = true;
    core::Stopwatch clock;
    const auto by_threads =
        paired_rounds_by_threads({[&x_cl, b] { b.run(x_cl); }}, thread_counts_,
                                 options.timing_repeats, backend_);
    startup_.timing_s += clock.seconds();
    form = Form::kXnnpack;
    rule = FormRule::kDefault;
    report.xnnpack_ms = median_of(by_threads.front()[0]);
    for (size_t c = 0; c < thread_counts_.size(); ++c) {
      thread_samples.push_back({thread_counts_[c], by_threads[c][0]});
    }
  } else if (fastest && !float_form) {
    rule = FormRule::kFallback;
  } else if (fastest) {
    // Each form timed as it runs between optimised neighbours: taking the
    // optimised form's input layout and handing on its output layout (the
    // stem's input and the exits' logits are dense whatever the form).
    const bool first = name == "stem";
    const bool last = name.rfind("exit", 0) == 0;
    const bool in_mkldnn = !first && float_layout.mkldnn_in;
    const bool out_mkldnn = !last && float_layout.mkldnn_out;
    const torch::Tensor x = to_layout(example, in_mkldnn);
    auto as_graph = [&](const torch::jit::Module& form, bool mkldnn_in) {
      Block b;
      b.optimized = form;
      b.mkldnn_in = mkldnn_in;
      return [&x, b, out_mkldnn] { to_layout(b.run(x), out_mkldnn); };
    };
    std::vector<std::function<void()>> forms = {
        as_graph(*float_form, float_layout.mkldnn_in),
        [&] { to_layout(forward(to_layout(x, false)), out_mkldnn); }};
    if (int8_form) forms.push_back(as_graph(*int8_form, false));
    if (!device_.is_cpu()) {
      // A GPU call returns before its kernels run: time to their end.
      for (auto& f : forms) {
        f = [f, device = device_] {
          f();
          core::synchronize(device);
        };
      }
    }
    core::Stopwatch clock;
    const auto by_threads = paired_rounds_by_threads(
        forms, thread_counts_, options.timing_repeats, backend_);
    const auto& ms = by_threads.front();
    startup_.timing_s += clock.seconds();
    std::vector<FormSamples> alternatives = {{Form::kEager, ms[1]}};
    if (int8_form) alternatives.push_back({Form::kInt8, ms[2]});
    const FormChoice choice = choose_form(ms[0], alternatives, options.choice);
    form = choice.form;
    rule = choice.rule;
    report.decided_by = rule;
    report.optimized_ms = median_of(ms[0]);
    report.eager_ms = median_of(ms[1]);
    if (int8_form) report.int8_ms = median_of(ms[2]);
    report.p_value = choice.p_value;
    report.gain = choice.gain;
    const size_t chosen = form == Form::kOptimized ? 0
                          : form == Form::kEager   ? 1
                                                   : 2;
    for (size_t c = 0; c < thread_counts_.size(); ++c) {
      thread_samples.push_back({thread_counts_[c], by_threads[c][chosen]});
    }
  }
  if (rule != FormRule::kCache) report.decided_by = rule;
  if (rule == FormRule::kFallback) thread_samples.clear();
  for (const ThreadSamples& t : thread_samples) {
    report.threads_ms.push_back(median_of(t.ms));
  }

  if (form == Form::kOptimized) {
    block.optimized = float_form;
    block.mkldnn_in = float_layout.mkldnn_in;
    block.mkldnn_out = float_layout.mkldnn_out;
  } else if (form == Form::kInt8) {
    block.optimized = int8_form;
  } else if (form == Form::kXnnpack) {
    block.optimized = xnnpack_form;
    block.channels_last_in = true;
  }
  report.form = form;
  report.rule = rule;
  report.optimized = block.optimized.has_value();
  report.int8 = form == Form::kInt8;
  report.mkldnn_in = report.optimized && block.mkldnn_in;
  if (report.optimized) {
    // optimize_for_inference's passes move convolution weights into
    // prepacked op contexts, which are not tensor constants of the graph:
    // the eager module's bytes stand for them (one copy, the same size).
    weight_bytes_ += report.int8
                         ? packed_weight_bytes(*block.optimized)
                         : std::max(graph_constant_bytes(*block.optimized),
                                    module_bytes(*block.eager));
    block.eager.reset();  // the graph's constants are the only copy kept
    block.eager_forward = nullptr;
  } else {
    weight_bytes_ += module_bytes(*block.eager);
  }
  CachedForm decision;
  decision.block = name;
  decision.form = form;
  decision.rule = report.decided_by;
  decision.eager_ms = report.eager_ms;
  decision.optimized_ms = report.optimized_ms;
  decision.int8_ms = report.int8_ms;
  decision.xnnpack_ms = report.xnnpack_ms;
  decision.p_value = report.p_value;
  decision.gain = report.gain;
  decision.threads = std::move(thread_samples);
  decisions_.push_back(decision);
  reports_.push_back(report);
  return block;
}

AdaptiveEngine::AdaptiveEngine(operators::ElasticNet net,
                               const EngineOptions& options)
    : space_(net->spec()), variants_(space_.all()) {
  core::Stopwatch build_clock;
  // Timing changes the calling thread's thread teams; the caller gets them
  // back as they were.
  ScopedThreadSettings caller_threads;
  if (options.timing_repeats < 1) {
    throw UsageError(fmt::format("timing_repeats must be ≥ 1, got {}",
                                 options.timing_repeats));
  }
  check(options.choice);
  if (options.max_fused_variants < 0) {
    throw UsageError(fmt::format("max_fused_variants must be ≥ 0, got {}",
                                 options.max_fused_variants));
  }
  if (options.fuse_after < 0) {
    throw UsageError(
        fmt::format("fuse_after must be ≥ 0, got {}", options.fuse_after));
  }
  set_early_exit_threshold(options.early_exit_threshold);
  if (!net->parameters().empty()) device_ = net->parameters().front().device();
  const bool int8 = options.precision == Precision::kInt8;
  if (int8 && !device_.is_cpu()) {
    throw UsageError(
        fmt::format("int8 precision runs on the CPU only (LibTorch's dynamic "
                    "quantization), not on the net's device {}",
                    device_.str()));
  }
  if (int8 && options.mode == BlockMode::kEager) {
    throw UsageError(
        "int8 precision needs the fastest or optimized block mode, not eager");
  }
  if (int8 && !options.calibration.defined()) {
    throw UsageError("int8 precision needs calibration images");
  }
  if (!(options.int8_tolerance > 0)) {
    throw UsageError(fmt::format("int8 tolerance must be > 0, got {}",
                                 options.int8_tolerance));
  }
  for (size_t i = 0; i < variants_.size(); ++i) {
    index_of_key_.emplace(space_.pack(variants_[i]), i);
  }
  thread_counts_ = {std::max(1, at::get_num_threads())};
  // Intra-op threads are the CPU's; on a GPU the choice means nothing.
  if (options.choose_threads && options.mode == BlockMode::kFastest &&
      device_.is_cpu()) {
    for (int t = thread_counts_.front() / 2; t >= 1; t /= 2) {
      thread_counts_.push_back(t);
    }
  }
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);

  // The blocks in the order prepare() sees them: the cache lists them so.
  std::vector<std::string> names = {"stem"};
  for (int s = 0; s < net->num_stages(); ++s) {
    for (const auto& c : space_.candidates(size_t(s))) {
      names.push_back(fmt::format("stage{}/{}", s + 1, c));
    }
    names.push_back(fmt::format("exit{}", s + 1));
  }
  FormCacheKey key;
  FormCacheRead cache;
  const bool use_cache =
      !options.form_cache_dir.empty() && options.mode == BlockMode::kFastest;
  if (use_cache) {
    key = {machine_description(at::get_num_threads()),
           decision_settings(options), weights_fingerprint(*net)};
    startup_.cache_path = form_cache_path(options.form_cache_dir, key);
    cache = read_form_cache(startup_.cache_path, key, names);
    startup_.cache = cache.status;
    if (cache.status == FormCacheStatus::kHit) {
      log::info("engine: block forms from {}", startup_.cache_path);
    } else {
      startup_.cache_reason = cache.reason;
      // A corrupt file is worth a warning; a missing or stale one is the
      // normal first start on a machine or after retraining.
      if (cache.status == FormCacheStatus::kCorrupt) {
        log::warn("engine: form cache {}; timing the blocks again",
                  cache.reason);
      } else {
        log::info("engine: form cache {}; timing the blocks", cache.reason);
      }
    }
  }
  size_t next_block = 0;
  auto cached = [&]() -> const CachedForm* {
    const size_t i = next_block++;
    return cache.status == FormCacheStatus::kHit ? &cache.forms[i] : nullptr;
  };

  // Not InferenceMode: the tracer must see ordinary tensors.
  torch::NoGradGuard no_grad;
  const core::ModelSpec& spec = net->spec();
  example_ = fixed_example(spec, device_);
  if (cache.status == FormCacheStatus::kHit) {
    const bool any = std::any_of(
        cache.forms.begin(), cache.forms.end(),
        [](const CachedForm& f) { return f.form == Form::kXnnpack; });
    backend_ = any ? Form::kXnnpack : Form::kOptimized;
    startup_.backend_rule = FormRule::kCache;
  } else if (options.mode != BlockMode::kEager && device_.is_cpu() && !int8 &&
             options.backend == Backend::kXnnpack) {
    backend_ = Form::kXnnpack;
  } else if (options.mode == BlockMode::kFastest && device_.is_cpu() && !int8 &&
             options.backend == Backend::kAuto) {
    core::Stopwatch clock;
    choose_backend(net, options);
    startup_.timing_s += clock.seconds();
  }
  startup_.backend = backend_;
  torch::Tensor x = example_;
  // Calibration images travel with the example: chunks of 32, each chunk
  // through a different candidate of every stage, so that a block's ranges
  // cover inputs from all its possible predecessors.
  std::vector<torch::Tensor> calibration;
  if (int8) {
    torch::Tensor images = options.calibration.to(device_, torch::kFloat);
    if (images.dim() != 4 || images.size(0) == 0 ||
        images.size(1) != spec.in_channels ||
        images.size(2) != spec.resolution ||
        images.size(3) != spec.resolution) {
      throw UsageError(
          fmt::format("calibration images are {}, the net takes N×{}×{}×{}",
                      fmt::join(images.sizes(), "×"), spec.in_channels,
                      spec.resolution, spec.resolution));
    }
    calibration = images.split(32);
  }
  auto through = [](torch::nn::Sequential& m,
                    const std::vector<torch::Tensor>& in) {
    std::vector<torch::Tensor> out;
    for (const auto& t : in) out.push_back(m->forward(t));
    return out;
  };
  torch::nn::Sequential stem = net->stem;
  stem_ = prepare(
      "stem", stem.ptr(),
      [m = stem.ptr()](const torch::Tensor& t) { return m->forward(t); }, x,
      calibration, options, cached());
  x = stem->forward(x);
  calibration = through(stem, calibration);
  const std::vector<int> trunk = space_.trunk(net->num_stages() - 1).choices;
  for (int s = 0; s < net->num_stages(); ++s) {
    std::vector<Block> stage;
    torch::Tensor next;
    const auto& candidates = net->candidates[size_t(s)];
    for (size_t c = 0; c < candidates.size(); ++c) {
      torch::nn::Sequential cand = candidates[c];
      stage.push_back(prepare(
          fmt::format("stage{}/{}", s + 1, space_.candidates(size_t(s))[c]),
          cand.ptr(),
          [m = cand.ptr()](const torch::Tensor& t) { return m->forward(t); }, x,
          calibration, options, cached()));
      if (int(c) == trunk[size_t(s)]) next = cand->forward(x);
    }
    for (size_t i = 0; i < calibration.size(); ++i) {
      torch::nn::Sequential cand = candidates[i % candidates.size()];
      calibration[i] = cand->forward(calibration[i]);
    }
    stages_.push_back(std::move(stage));
    operators::ExitHead head = net->exits[size_t(s)];
    exits_.push_back(prepare(
        fmt::format("exit{}", s + 1), head.ptr(),
        [m = head.ptr()](const torch::Tensor& t) { return m->forward(t); },
        next, calibration, options, cached()));
    x = next;
  }

  choose_variant_threads(options.choice);

  // Store what was decided unless the file already says exactly that.
  bool changed = cache.status != FormCacheStatus::kHit;
  for (const BlockReport& b : reports_)
    changed |= b.rule == FormRule::kFallback;
  if (use_cache && changed) {
    try {
      write_form_cache(startup_.cache_path, key, decisions_);
      startup_.cache_written = true;
    } catch (const Error& e) {
      log::warn("engine: cannot store the form cache: {}", e.what());
    }
  }

  max_fused_ =
      options.mode == BlockMode::kEager ? 0 : options.max_fused_variants;
  fuse_after_ = options.fuse_after;
  fused_ = std::make_unique<std::atomic<const Fused*>[]>(variants_.size());
  unfused_runs_ = std::make_unique<std::atomic<int>[]>(variants_.size());
  for (size_t i = 0; i < variants_.size(); ++i) {
    fused_[i].store(nullptr, std::memory_order_relaxed);
    unfused_runs_[i].store(0, std::memory_order_relaxed);
  }
  if (options.fuse_trunk && max_fused_ > 0) {
    core::Stopwatch clock;
    std::lock_guard<std::mutex> lock(fuse_mutex_);
    for (int k = 0; k < net->num_stages(); ++k) {
      fuse_locked(index_of(space_.trunk(k)), /*ahead=*/true);
    }
    startup_.fusing_s = clock.seconds();
  }
  startup_.build_s = build_clock.seconds();

  int64_t fused_extra = 0;
  for (const FusedReport& f : fused_reports_) fused_extra += f.extra_bytes;
  int by_rule[5] = {}, by_form[4] = {};
  for (const BlockReport& b : reports_) {
    ++by_rule[int(b.rule)];
    ++by_form[int(b.form)];
  }
  log::info(
      "engine: {} blocks ({} optimised, {} XNNPACK, {} eager, {} int8; "
      "decided by cache "
      "{}, significant {}, default {}, fallback {}, mode {}), {} fused "
      "variants of at most {} ({} bytes of weights not shared), built in "
      "{:.2f} s (timing {:.2f} s, fusing {:.2f} s); {} of {} variants run on "
      "fewer than {} threads",
      reports_.size(), by_form[int(Form::kOptimized)],
      by_form[int(Form::kXnnpack)], by_form[int(Form::kEager)],
      by_form[int(Form::kInt8)], by_rule[int(FormRule::kCache)],
      by_rule[int(FormRule::kSignificant)], by_rule[int(FormRule::kDefault)],
      by_rule[int(FormRule::kFallback)], by_rule[int(FormRule::kMode)],
      fused_reports_.size(), max_fused_, fused_extra, startup_.build_s,
      startup_.timing_s, startup_.fusing_s,
      std::count_if(variant_threads_.begin(), variant_threads_.end(),
                    [&](const ThreadChoice& c) {
                      return c.threads < thread_counts_.front();
                    }),
      variants_.size(), thread_counts_.front());
  if (max_fused_ > 0 && fuse_after_ > 0) {
    worker_ = std::thread([this] { fusion_worker(); });
  }
}

void AdaptiveEngine::choose_backend(operators::ElasticNet& net,
                                    const EngineOptions& options) {
  const core::Variant trunk = space_.trunk(net->num_stages() - 1);
  auto forward = [&](const torch::Tensor& t) { return net->forward(t, trunk); };
  torch::jit::Module onednn, xnnpack;
  Layout layout;
  try {
    torch::jit::Module traced = trace_module(*net, forward, example_, "trunk");
    onednn = optimized_block("trunk", traced, forward, example_, layout);
    xnnpack = xnnpack_block("trunk", traced, forward, example_);
  } catch (const Error& e) {
    log::info("engine: oneDNN backend; XNNPACK not tried: {}", e.what());
    return;
  }
  const torch::Tensor x = to_layout(example_, layout.mkldnn_in);
  const torch::Tensor x_cl =
      example_.contiguous(at::MemoryFormat::ChannelsLast);
  const std::function<void()> runs[2] = {
      [&] { to_layout(onednn.forward({x}).toTensor(), false); },
      [&] { xnnpack.forward({x_cl}); }};
  // Paired rounds of short runs, each backend warmed up at the start of
  // its run so that the other's spinning workers have gone to sleep.
  constexpr int kWarmup = 5, kCalls = 9;
  std::vector<double> samples[2];
  for (int r = 0; r < options.timing_repeats; ++r) {
    for (int k = 0; k < 2; ++k) {
      const int b = r % 2 == 0 ? k : 1 - k;
      set_backend_threads(b == 0 ? Form::kOptimized : Form::kXnnpack,
                          thread_counts_.front());
      for (int i = 0; i < kWarmup; ++i) runs[b]();
      std::vector<double> ms;
      for (int i = 0; i < kCalls; ++i) {
        core::Stopwatch clock;
        runs[b]();
        ms.push_back(clock.milliseconds());
      }
      samples[b].push_back(core::median(std::move(ms)));
    }
  }
  set_intra_op_threads(thread_counts_.front());
  const FormChoice choice =
      choose_form(samples[0], {{Form::kXnnpack, samples[1]}}, options.choice);
  backend_ = choice.form == Form::kXnnpack ? Form::kXnnpack : Form::kOptimized;
  startup_.backend_rule = choice.rule;
  startup_.backend_p_value = choice.p_value;
  startup_.backend_gain = choice.gain;
  startup_.trunk_onednn_ms = median_of(samples[0]);
  startup_.trunk_xnnpack_ms = median_of(samples[1]);
  log::info(
      "engine: {} backend by {} (trunk {} {:.3f} ms on oneDNN, {:.3f} ms on "
      "XNNPACK; p {:.2g}, gain {:.1f}%)",
      backend_ == Form::kXnnpack ? "XNNPACK" : "oneDNN", to_string(choice.rule),
      space_.to_string(trunk), startup_.trunk_onednn_ms,
      startup_.trunk_xnnpack_ms, choice.p_value, 100 * choice.gain);
}

AdaptiveEngine::~AdaptiveEngine() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void AdaptiveEngine::choose_variant_threads(const FormChoiceOptions& options) {
  variant_threads_.assign(variants_.size(), ThreadChoice{thread_counts_[0]});
  if (thread_counts_.size() < 2) return;
  // A block has usable timings when it was timed (or cached) at every count
  // with the same number of rounds as the others; a variant through any
  // block without them keeps the full count.
  size_t rounds = 0;
  std::vector<bool> usable(decisions_.size(), false);
  for (size_t b = 0; b < decisions_.size(); ++b) {
    const std::vector<ThreadSamples>& t = decisions_[b].threads;
    bool ok = t.size() == thread_counts_.size() && !t[0].ms.empty();
    for (size_t c = 0; ok && c < t.size(); ++c) {
      ok =
          t[c].threads == thread_counts_[c] && t[c].ms.size() == t[0].ms.size();
    }
    if (ok && rounds == 0) rounds = t[0].ms.size();
    usable[b] = ok && t[0].ms.size() == rounds;
  }
  for (size_t v = 0; v < variants_.size(); ++v) {
    const std::vector<const Block*> chain = chain_of(variants_[v]);
    if (!std::all_of(chain.begin(), chain.end(),
                     [&](const Block* b) { return usable[b->id]; })) {
      continue;
    }
    // The variant's time in round r at count c: its blocks' round-r times
    // summed (every block's rounds are paired the same way).
    std::vector<ThreadSamples> at;
    for (int threads : thread_counts_) {
      at.push_back({threads, std::vector<double>(rounds, 0.0)});
    }
    for (const Block* b : chain) {
      for (size_t c = 0; c < at.size(); ++c) {
        const std::vector<double>& ms = decisions_[b->id].threads[c].ms;
        for (size_t r = 0; r < rounds; ++r) at[c].ms[r] += ms[r];
      }
    }
    variant_threads_[v] = choose_threads(
        at.front(), std::vector<ThreadSamples>(at.begin() + 1, at.end()),
        options);
  }
}

const ThreadChoice& AdaptiveEngine::thread_choice(size_t variant) const {
  if (variant >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 variant, variants_.size()));
  }
  return variant_threads_[variant];
}

int AdaptiveEngine::apply_threads(size_t variant) const {
  const int cap = threads_.load(std::memory_order_acquire);
  const int allowed = cap > 0 ? cap : thread_counts_.front();
  // Only a count measured faster limits the cap; otherwise the variant
  // takes every thread it is allowed.
  const ThreadChoice& own = variant_threads_[variant];
  const int threads = own.rule == FormRule::kSignificant
                          ? std::min(allowed, own.threads)
                          : allowed;
  set_backend_threads(backend_, threads);
  return threads;
}

std::vector<const AdaptiveEngine::Block*> AdaptiveEngine::chain_of(
    const core::Variant& variant) const {
  std::vector<const Block*> chain = {&stem_};
  for (int s = 0; s <= variant.exit; ++s) {
    chain.push_back(&stages_[size_t(s)][size_t(variant.choices[size_t(s)])]);
  }
  chain.push_back(&exits_[size_t(variant.exit)]);
  return chain;
}

torch::Tensor AdaptiveEngine::run_chain(const torch::Tensor& x,
                                        const core::Variant& variant) const {
  torch::Tensor y = x;
  for (const Block* b : chain_of(variant)) y = b->run(y);
  return to_layout(y, false);
}

bool AdaptiveEngine::fuse(size_t variant) {
  if (variant >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 variant, variants_.size()));
  }
  std::lock_guard<std::mutex> lock(fuse_mutex_);
  return fuse_locked(variant, /*ahead=*/false);
}

bool AdaptiveEngine::fuse_locked(size_t variant, bool ahead) {
  if (fused_[variant].load(std::memory_order_acquire)) return true;
  if (int(fused_store_.size()) >= max_fused_) return false;
  const std::string id = space_.to_string(variants_[variant]);
  std::vector<FusablePart> parts;
  for (const Block* b : chain_of(variants_[variant])) {
    if (!b->optimized) {
      log::debug("engine: {} stays chained: one of its blocks runs eager", id);
      return false;
    }
    parts.push_back(
        {*b->optimized, b->mkldnn_in, b->mkldnn_out, b->channels_last_in});
  }
  core::Stopwatch clock;
  auto fused = std::make_unique<Fused>();
  FusedReport report;
  report.variant = variant;
  report.id = id;
  report.ahead = ahead;
  try {
    fused->module = fuse_parts(parts, "fused");
    report.extra_bytes = fused_extra_bytes(fused->module, parts);
    // Checked against the chain, then run twice more so that the executor
    // has profiled and optimised its plan before any inference meets it.
    c10::InferenceMode inference;
    torch::Tensor want = run_chain(example_, variants_[variant]);
    torch::Tensor got = fused->run(example_);
    report.max_abs_diff = (got - want).abs().max().item<double>();
    const double scale = std::max(1.0, want.abs().max().item<double>());
    if (!(report.max_abs_diff <= 1e-5 * scale)) {
      log::warn(
          "engine: fused {} differs from its blocks by {:.3g}; it "
          "stays chained",
          id, report.max_abs_diff);
      return false;
    }
    for (int i = 0; i < 2; ++i) fused->run(example_);
  } catch (const std::exception& e) {
    // A variant that cannot be fused is still served by its chain.
    log::warn("engine: cannot fuse {}: {}; it stays chained", id, e.what());
    return false;
  }
  report.build_ms = clock.milliseconds();
  fused_[variant].store(fused.get(), std::memory_order_release);
  fused_store_.push_back(std::move(fused));
  fused_reports_.push_back(report);
  log::debug("engine: fused {} in {:.1f} ms ({} of {})", id, report.build_ms,
             fused_store_.size(), max_fused_);
  return true;
}

bool AdaptiveEngine::fused(size_t variant) const {
  return variant < variants_.size() &&
         fused_[variant].load(std::memory_order_acquire) != nullptr;
}

std::vector<FusedReport> AdaptiveEngine::fused_variants() const {
  std::lock_guard<std::mutex> lock(fuse_mutex_);
  return fused_reports_;
}

void AdaptiveEngine::note_unfused(size_t variant) const {
  if (!worker_.joinable()) return;
  // Counting stops at the threshold: the request is made once.
  std::atomic<int>& runs = unfused_runs_[variant];
  if (runs.load(std::memory_order_relaxed) >= fuse_after_) return;
  if (runs.fetch_add(1, std::memory_order_relaxed) + 1 != fuse_after_) return;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(variant);
  }
  queue_cv_.notify_all();
}

void AdaptiveEngine::fusion_worker() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const size_t variant = queue_.front();
    queue_.pop_front();
    fusing_ = true;
    lock.unlock();
    try {
      fuse(variant);
    } catch (const std::exception& e) {
      // A fusion that fails leaves the variant chained, which is correct.
      log::warn("engine: fusing {} failed: {}",
                space_.to_string(variants_[variant]), e.what());
    }
    lock.lock();
    fusing_ = false;
    queue_cv_.notify_all();
  }
}

void AdaptiveEngine::wait_for_fusions() const {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_cv_.wait(lock, [&] { return queue_.empty() && !fusing_; });
}

size_t AdaptiveEngine::index_of_key(uint64_t key) const {
  auto it = index_of_key_.find(key);
  if (it == index_of_key_.end()) {
    throw UsageError(fmt::format("variant key {:#x} is not in this net", key));
  }
  return it->second;
}

size_t AdaptiveEngine::index_of(const core::Variant& variant) const {
  space_.check(variant);
  return index_of_key(space_.pack(variant));
}

void AdaptiveEngine::switch_to(size_t variant) {
  if (variant >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 variant, variants_.size()));
  }
  active_.store(variant, std::memory_order_release);
}

void AdaptiveEngine::set_early_exit_threshold(double threshold) {
  if (!(threshold >= 0 && threshold <= 1)) {
    throw UsageError(fmt::format(
        "early-exit threshold must be in [0, 1], got {}", threshold));
  }
  threshold_.store(threshold, std::memory_order_release);
}

void AdaptiveEngine::set_threads(int threads) {
  if (threads < 0) {
    throw UsageError(fmt::format("thread count must be ≥ 0, got {}", threads));
  }
  threads_.store(threads, std::memory_order_release);
}

InferenceResult AdaptiveEngine::infer(const torch::Tensor& batch) const {
  return infer(batch, active());
}

torch::Tensor AdaptiveEngine::infer_chained(const torch::Tensor& batch,
                                            size_t index) const {
  if (index >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 index, variants_.size()));
  }
  ScopedThreadSettings caller_threads;
  apply_threads(index);
  c10::InferenceMode inference;
  return run_chain(batch.to(device_), variants_[index]);
}

InferenceResult AdaptiveEngine::infer(const torch::Tensor& batch,
                                      size_t index) const {
  core::Stopwatch clock;
  if (index >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 index, variants_.size()));
  }
  // OpenMP's thread count is per calling thread: apply it here, and give
  // the caller its own back at the end.
  ScopedThreadSettings caller_threads;
  const int threads = apply_threads(index);
  c10::InferenceMode inference;
  const core::Variant& variant = variants_[index];
  const double tau = early_exit_threshold();
  InferenceResult result;
  result.threads = threads;
  result.variant = index;
  result.exit = variant.exit;
  if (tau <= 0 && max_fused_ > 0) {
    if (const Fused* f = fused_[index].load(std::memory_order_acquire)) {
      result.logits = f->run(batch.to(device_));
      result.exits.assign(size_t(result.logits.size(0)), variant.exit);
      core::synchronize(device_);  // the latency covers the GPU's work
      result.latency_ms = clock.milliseconds();
      return result;
    }
    note_unfused(index);
  }
  torch::Tensor x = stem_.run(batch.to(device_));
  const int64_t n = x.size(0);
  result.exits.assign(size_t(n), variant.exit);

  // Early exit keeps the rows still running in `alive` (indices into the
  // batch) and writes each finished row's logits into `result.logits`.
  torch::Tensor alive;
  for (int s = 0; s <= variant.exit; ++s) {
    x = stages_[size_t(s)][size_t(variant.choices[size_t(s)])].run(x);
    if (s == variant.exit || tau <= 0) continue;
    torch::Tensor logits = to_layout(exits_[size_t(s)].run(x), false);
    torch::Tensor confident =
        std::get<0>(torch::softmax(logits, 1).max(1)).ge(tau);
    if (!confident.any().item<bool>()) continue;
    if (!result.logits.defined()) {
      result.logits = torch::empty({n, logits.size(1)}, logits.options());
      alive = torch::arange(n, torch::TensorOptions().device(device_));
    }
    torch::Tensor done = alive.masked_select(confident);
    result.logits.index_copy_(0, done, logits.index({confident}));
    auto done_cpu = done.cpu();
    for (int64_t i = 0; i < done_cpu.numel(); ++i) {
      result.exits[size_t(done_cpu.data_ptr<int64_t>()[i])] = s;
    }
    torch::Tensor keep = confident.logical_not();
    alive = alive.masked_select(keep);
    if (alive.numel() == 0) break;
    x = to_layout(x, false).index({keep});
  }
  if (!result.logits.defined()) {
    result.logits = to_layout(exits_[size_t(variant.exit)].run(x), false);
  } else if (alive.numel() > 0) {
    result.logits.index_copy_(
        0, alive, to_layout(exits_[size_t(variant.exit)].run(x), false));
  }
  result.exit = *std::max_element(result.exits.begin(), result.exits.end());
  core::synchronize(device_);
  result.latency_ms = clock.milliseconds();
  return result;
}

}  // namespace adascale::runtime

#include "runtime/adaptive_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/logging.h"
#include "core/timing.h"
#include "runtime/int8_quantizer.h"
#include "runtime/module_tracer.h"

namespace adascale::runtime {
namespace {

// Bytes of the tensors a frozen graph holds as constants (its weights once
// freezing has inlined them), including MKL-DNN prepacked ones.
int64_t constant_bytes(const torch::jit::Module& module) {
  int64_t bytes = 0;
  auto graph = module.get_method("forward").graph();
  for (const torch::jit::Node* node : graph->nodes()) {
    if (!node->hasAttribute(torch::jit::attr::value) ||
        node->kindOf(torch::jit::attr::value) != torch::jit::AttributeKind::t) {
      continue;
    }
    const at::Tensor& t = node->t(torch::jit::attr::value);
    bytes += t.numel() * int64_t(t.element_size());
  }
  return bytes;
}

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

// Batch-1 median of each of `forms`, timed in rounds that run every form
// once: a burst of load or a drift of the machine's speed then lands on
// all forms alike instead of on whichever was being timed.
std::vector<double> interleaved_medians_ms(
    const std::vector<std::function<void()>>& forms, int repeats) {
  constexpr int kWarmup = 3;
  for (int i = 0; i < kWarmup; ++i) {
    for (const auto& f : forms) f();
  }
  std::vector<std::vector<double>> samples(forms.size());
  for (int r = 0; r < repeats; ++r) {
    for (size_t i = 0; i < forms.size(); ++i) {
      core::Stopwatch clock;
      forms[i]();
      samples[i].push_back(clock.milliseconds());
    }
  }
  std::vector<double> medians;
  for (auto& v : samples) {
    std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
    medians.push_back(v[v.size() / 2]);
  }
  return medians;
}

}  // namespace

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

torch::Tensor AdaptiveEngine::Block::run(const torch::Tensor& x) const {
  if (optimized) {
    // jit::Module is a handle; the copy shares the compiled graph.
    torch::jit::Module module = *optimized;
    return module.forward({to_layout(x, mkldnn_in)}).toTensor();
  }
  return eager_forward(to_layout(x, false));
}

AdaptiveEngine::Block AdaptiveEngine::prepare(
    const std::string& name, std::shared_ptr<torch::nn::Module> module,
    std::function<torch::Tensor(const torch::Tensor&)> forward,
    const torch::Tensor& example, const std::vector<torch::Tensor>& calibration,
    const EngineOptions& options) {
  BlockReport report;
  report.name = name;
  Block block;
  block.eager = module;
  block.eager_forward = forward;
  std::optional<torch::jit::Module> float_form, int8_form;
  bool float_mkldnn_in = false;
  if (options.mode != BlockMode::kEager) {
    try {
      torch::jit::Module traced =
          trace_module(*module, forward, example, "block");
      Layout layout;
      float_form = optimized_block(name, traced, forward, example, layout);
      float_mkldnn_in = layout.mkldnn_in;
      if (options.precision == Precision::kInt8) {
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
    } catch (const Error&) {
      // The fastest mode falls back to the eager block; the optimised mode
      // promised every block optimised.
      if (options.mode == BlockMode::kOptimized) throw;
    }
  }
  if (options.mode == BlockMode::kFastest && (float_form || int8_form)) {
    // Each form timed at batch 1 with its layout conversions, as if its
    // neighbours ran eager.
    auto timed = [&](const std::optional<torch::jit::Module>& form,
                     bool mkldnn_in) {
      Block b;
      b.optimized = form;
      b.mkldnn_in = mkldnn_in;
      return [&example, b] { to_layout(b.run(example), false); };
    };
    std::vector<std::function<void()>> forms = {[&] { forward(example); }};
    if (float_form) forms.push_back(timed(float_form, float_mkldnn_in));
    if (int8_form) forms.push_back(timed(int8_form, false));
    const std::vector<double> ms =
        interleaved_medians_ms(forms, options.timing_repeats);
    report.eager_ms = ms[0];
    double best = report.eager_ms;
    if (float_form) {
      report.optimized_ms = ms[1];
      if (report.optimized_ms < best) {
        best = report.optimized_ms;
        block.optimized = float_form;
        block.mkldnn_in = float_mkldnn_in;
      }
    }
    if (int8_form) {
      report.int8_ms = ms.back();
      if (report.int8_ms < best) {
        block.optimized = int8_form;
        block.mkldnn_in = false;
        report.int8 = true;
      }
    }
  } else if (options.mode == BlockMode::kOptimized) {
    report.int8 = int8_form.has_value();
    block.optimized = int8_form ? int8_form : float_form;
    block.mkldnn_in = !int8_form && float_mkldnn_in;
  }
  report.optimized = block.optimized.has_value();
  report.mkldnn_in = report.optimized && block.mkldnn_in;
  if (report.optimized) {
    block.eager.reset();  // the optimised constants are the only copy kept
    block.eager_forward = nullptr;
    weight_bytes_ += report.int8 ? packed_weight_bytes(*block.optimized)
                                 : constant_bytes(*block.optimized);
  } else {
    weight_bytes_ += module_bytes(*block.eager);
  }
  reports_.push_back(report);
  return block;
}

AdaptiveEngine::AdaptiveEngine(operators::ElasticNet net,
                               const EngineOptions& options)
    : space_(net->spec()), variants_(space_.all()) {
  if (options.timing_repeats < 1) {
    throw UsageError(fmt::format("timing_repeats must be ≥ 1, got {}",
                                 options.timing_repeats));
  }
  set_early_exit_threshold(options.early_exit_threshold);
  const bool int8 = options.precision == Precision::kInt8;
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
  net->eval();
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  if (!net->parameters().empty()) device_ = net->parameters().front().device();

  // Not InferenceMode: the tracer must see ordinary tensors.
  torch::NoGradGuard no_grad;
  const core::ModelSpec& spec = net->spec();
  torch::Tensor x =
      torch::zeros({1, spec.in_channels, spec.resolution, spec.resolution},
                   torch::TensorOptions().device(device_));
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
      calibration, options);
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
          calibration, options));
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
        next, calibration, options));
    x = next;
  }
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

InferenceResult AdaptiveEngine::infer(const torch::Tensor& batch,
                                      size_t index) const {
  core::Stopwatch clock;
  if (index >= variants_.size()) {
    throw UsageError(fmt::format("variant {} out of range (the net has {})",
                                 index, variants_.size()));
  }
  // OpenMP's thread count is per calling thread: apply it here.
  const int threads = threads_.load(std::memory_order_acquire);
  if (threads > 0 && at::get_num_threads() != threads) {
    at::set_num_threads(threads);
  }
  c10::InferenceMode inference;
  const core::Variant& variant = variants_[index];
  const double tau = early_exit_threshold();
  InferenceResult result;
  result.variant = index;
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
  result.latency_ms = clock.milliseconds();
  return result;
}

}  // namespace adascale::runtime

#include "runtime/adaptive_engine.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/timing.h"
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
    const std::string& name, torch::nn::Module& module,
    const std::function<torch::Tensor(const torch::Tensor&)>& forward,
    const torch::Tensor& example, Layout& layout) {
  torch::jit::Module optimized =
      optimize_for_inference(trace_module(module, forward, example, "block"));
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

double median_ms(const std::function<void()>& fn, int repeats) {
  return core::measure_latency(fn, /*warmup=*/3, repeats).median_ms;
}

}  // namespace

BlockMode parse_block_mode(const std::string& text) {
  if (text == "fastest") return BlockMode::kFastest;
  if (text == "eager") return BlockMode::kEager;
  if (text == "optimized") return BlockMode::kOptimized;
  throw UsageError("block mode '" + text +
                   "' is not one of fastest, eager, optimized");
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
    const torch::Tensor& example, const EngineOptions& options) {
  BlockReport report;
  report.name = name;
  Block block;
  block.eager = module;
  block.eager_forward = forward;
  if (options.mode != BlockMode::kEager) {
    try {
      Layout layout;
      block.optimized =
          optimized_block(name, *module, forward, example, layout);
      block.mkldnn_in = layout.mkldnn_in;
    } catch (const Error&) {
      // The fastest mode falls back to the eager block; the optimised mode
      // promised every block optimised.
      if (options.mode == BlockMode::kOptimized) throw;
    }
  }
  if (block.optimized && options.mode == BlockMode::kFastest) {
    report.eager_ms =
        median_ms([&] { forward(example); }, options.timing_repeats);
    // Timed with its layout conversions, as if its neighbours ran eager.
    report.optimized_ms = median_ms(
        [&] { to_layout(block.run(example), false); }, options.timing_repeats);
    if (report.eager_ms <= report.optimized_ms) block.optimized.reset();
  }
  report.optimized = block.optimized.has_value();
  report.mkldnn_in = report.optimized && block.mkldnn_in;
  if (report.optimized) {
    block.eager.reset();  // the optimised constants are the only copy kept
    block.eager_forward = nullptr;
    weight_bytes_ += constant_bytes(*block.optimized);
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
  torch::nn::Sequential stem = net->stem;
  stem_ = prepare(
      "stem", stem.ptr(),
      [m = stem.ptr()](const torch::Tensor& t) { return m->forward(t); }, x,
      options);
  x = stem->forward(x);
  const std::vector<int> trunk = space_.trunk(net->num_stages() - 1).choices;
  for (int s = 0; s < net->num_stages(); ++s) {
    std::vector<Block> stage;
    torch::Tensor next;
    for (size_t c = 0; c < net->candidates[size_t(s)].size(); ++c) {
      torch::nn::Sequential cand = net->candidates[size_t(s)][c];
      stage.push_back(prepare(
          fmt::format("stage{}/{}", s + 1, space_.candidates(size_t(s))[c]),
          cand.ptr(),
          [m = cand.ptr()](const torch::Tensor& t) { return m->forward(t); }, x,
          options));
      if (int(c) == trunk[size_t(s)]) next = cand->forward(x);
    }
    stages_.push_back(std::move(stage));
    operators::ExitHead head = net->exits[size_t(s)];
    exits_.push_back(prepare(
        fmt::format("exit{}", s + 1), head.ptr(),
        [m = head.ptr()](const torch::Tensor& t) { return m->forward(t); },
        next, options));
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

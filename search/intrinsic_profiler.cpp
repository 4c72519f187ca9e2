#include "search/intrinsic_profiler.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/logging.h"

namespace adascale::search {
namespace {

using torch::jit::Node;
using torch::jit::Value;

/// A parameter or buffer of the profiled module: one trace input.
struct Source {
  std::string name;
  torch::Tensor tensor;
  bool is_parameter = false;
};

/// What the profiler knows about a traced value.
struct ValueInfo {
  /// Computed from the model input (as opposed to weights and constants).
  bool activation = false;
  /// Indices into the sources the value is computed from.
  std::set<size_t> roots;
  /// The enclosing module path, inherited along the data flow for naming.
  std::string scope;
};

/// Puts the module in eval mode and restores every submodule's own flag
/// (a frozen prefix may be in eval while the rest trains).
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module) : module_(module) {
    self_training_ = module.is_training();
    for (const auto& m : module.modules(/*include_self=*/false)) {
      children_.emplace_back(m, m->is_training());
    }
    module.eval();
  }
  ~EvalModeGuard() {
    // train() recurses, so restore parents before children (modules() is a
    // pre-order walk).
    module_.train(self_training_);
    for (auto& [m, training] : children_) m->train(training);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool self_training_ = false;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> children_;
};

std::string error_text(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    return c10->what_without_backtrace();
  }
  return e.what();
}

std::vector<Source> collect_sources(const torch::nn::Module& module) {
  std::vector<Source> sources;
  std::unordered_set<const c10::TensorImpl*> seen;
  auto add = [&](const std::string& name, const torch::Tensor& t,
                 bool is_parameter) {
    if (!t.defined() || !seen.insert(t.unsafeGetTensorImpl()).second) return;
    sources.push_back({name, t, is_parameter});
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value(), true);
  for (const auto& b : module.named_buffers()) add(b.key(), b.value(), false);
  return sources;
}

bool is_tensor(const Value* v) {
  return v->type()->isSubtypeOf(*c10::TensorType::get());
}

std::optional<std::vector<int64_t>> sizes_of(const Value* v) {
  auto type = v->type()->cast<c10::TensorType>();
  if (!type) return std::nullopt;
  auto sizes = type->sizes().concrete_sizes();
  if (!sizes) return std::nullopt;
  return *sizes;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

int64_t numel(const Value* v) {
  auto s = sizes_of(v);
  return s ? product(*s) : 0;
}

int64_t element_bytes(const Value* v) {
  auto type = v->type()->cast<c10::TensorType>();
  if (!type || !type->scalarType()) return 4;
  return static_cast<int64_t>(c10::elementSize(*type->scalarType()));
}

int64_t bytes(const Value* v) {
  return numel(v) * element_bytes(v);
}

bool is_contiguous(const Value* v) {
  auto type = v->type()->cast<c10::TensorType>();
  if (!type) return true;
  auto sizes = type->sizes().concrete_sizes();
  auto strides = type->strides().concrete_sizes();
  if (!sizes || !strides || sizes->size() != strides->size()) return true;
  int64_t expected = 1;
  for (size_t i = sizes->size(); i-- > 0;) {
    if ((*sizes)[i] != 1 && (*strides)[i] != expected) return false;
    expected *= (*sizes)[i];
  }
  return true;
}

/// The tensors a node reads, with lists of tensors (cat's input) expanded.
std::vector<const Value*> tensor_operands(const Node* n) {
  std::vector<const Value*> out;
  for (const Value* v : n->inputs()) {
    if (is_tensor(v)) {
      out.push_back(v);
    } else if (v->node()->kind() == c10::prim::ListConstruct) {
      for (const Value* e : v->node()->inputs()) {
        if (is_tensor(e)) out.push_back(e);
      }
    }
  }
  return out;
}

/// "aten::relu_" → "relu": in-place and out-of-place forms cost the same.
std::string base_name(const Node* n) {
  std::string name = n->kind().toUnqualString();
  if (name.size() > 1 && name.back() == '_' && name.front() != '_' &&
      name[name.size() - 2] != '_') {
    name.pop_back();
  }
  return name;
}

/// The spatial rank from an op name such as "max_pool2d" (0 if none).
int spatial_rank(const std::string& name) {
  auto pos = name.find_last_of("123");
  if (pos == std::string::npos || pos + 1 >= name.size() ||
      name[pos + 1] != 'd') {
    return 0;
  }
  return name[pos] - '0';
}

const std::unordered_set<std::string>& view_ops() {
  static const std::unordered_set<std::string> ops = {"view",
                                                      "reshape",
                                                      "flatten",
                                                      "unflatten",
                                                      "squeeze",
                                                      "unsqueeze",
                                                      "permute",
                                                      "transpose",
                                                      "t",
                                                      "expand",
                                                      "expand_as",
                                                      "slice",
                                                      "select",
                                                      "narrow",
                                                      "chunk",
                                                      "split",
                                                      "split_with_sizes",
                                                      "unbind",
                                                      "detach",
                                                      "alias",
                                                      "dropout",
                                                      "feature_dropout",
                                                      "alpha_dropout",
                                                      "feature_alpha_dropout",
                                                      "to",
                                                      "type_as",
                                                      "view_as",
                                                      "reshape_as",
                                                      "_unsafe_view",
                                                      "movedim",
                                                      "swapaxes",
                                                      "unfold",
                                                      "numpy_T",
                                                      "__getitem__"};
  return ops;
}

const std::unordered_set<std::string>& conv_ops() {
  static const std::unordered_set<std::string> ops = {"_convolution",
                                                      "convolution",
                                                      "_convolution_mode",
                                                      "conv1d",
                                                      "conv2d",
                                                      "conv3d",
                                                      "conv_transpose1d",
                                                      "conv_transpose2d",
                                                      "conv_transpose3d",
                                                      "mkldnn_convolution"};
  return ops;
}

const std::unordered_set<std::string>& unary_ops() {
  static const std::unordered_set<std::string> ops = {
      "relu",      "relu6",    "hardtanh",   "leaky_relu",  "prelu",
      "rrelu",     "elu",      "selu",       "celu",        "gelu",
      "silu",      "mish",     "sigmoid",    "hardsigmoid", "hardswish",
      "tanh",      "softplus", "clamp",      "clamp_min",   "clamp_max",
      "threshold", "exp",      "log",        "sqrt",        "rsqrt",
      "neg",       "abs",      "reciprocal", "pow",         "square",
      "erf",       "sign",     "floor",      "ceil",        "round"};
  return ops;
}

const std::unordered_set<std::string>& binary_ops() {
  static const std::unordered_set<std::string> ops = {
      "add",     "sub",     "rsub",  "mul",         "div",     "true_divide",
      "maximum", "minimum", "where", "masked_fill", "addcmul", "addcdiv",
      "eq",      "ne",      "lt",    "le",          "gt",      "ge"};
  return ops;
}

const std::unordered_set<std::string>& reduction_ops() {
  static const std::unordered_set<std::string> ops = {
      "mean", "sum", "amax", "amin", "prod",   "logsumexp", "norm",
      "var",  "std", "max",  "min",  "argmax", "argmin"};
  return ops;
}

const std::unordered_set<std::string>& movement_ops() {
  static const std::unordered_set<std::string> ops = {"cat",
                                                      "stack",
                                                      "constant_pad_nd",
                                                      "pad",
                                                      "reflection_pad1d",
                                                      "reflection_pad2d",
                                                      "replication_pad1d",
                                                      "replication_pad2d",
                                                      "replication_pad3d",
                                                      "clone",
                                                      "repeat",
                                                      "index_select",
                                                      "gather",
                                                      "embedding",
                                                      "pixel_shuffle",
                                                      "pixel_unshuffle",
                                                      "channel_shuffle",
                                                      "upsample_nearest1d",
                                                      "upsample_nearest2d",
                                                      "upsample_nearest3d",
                                                      "roll",
                                                      "flip",
                                                      "tile",
                                                      "contiguous",
                                                      "copy"};
  return ops;
}

/// Kind, MACs and FLOPs of one layer.
struct Cost {
  std::string kind;
  int64_t macs = 0;
  int64_t flops = 0;
  bool modelled = true;
};

bool has_tensor_input(const Node* n, size_t i) {
  return n->inputs().size() > i && is_tensor(n->input(i));
}

/// A constant int list argument: the tracer passes one as a
/// prim::ListConstruct of constants (empty if it is anything else).
std::vector<int64_t> int_list(const Value* v) {
  if (auto list = torch::jit::constant_as<c10::List<int64_t>>(v)) {
    return list->vec();
  }
  if (v->node()->kind() != c10::prim::ListConstruct) return {};
  std::vector<int64_t> out;
  for (const Value* e : v->node()->inputs()) {
    auto i = torch::jit::constant_as<int64_t>(e);
    if (!i) return {};
    out.push_back(*i);
  }
  return out;
}

Cost conv_cost(const Node* n, const std::string& name, int64_t out_numel) {
  auto in = sizes_of(n->input(0));
  auto w = sizes_of(n->input(1));
  auto out = sizes_of(n->output(0));
  Cost c;
  bool transposed = name.rfind("conv_transpose", 0) == 0;
  if (name == "_convolution" || name == "convolution") {
    transposed = torch::jit::constant_as<bool>(n->input(6)).value_or(false);
  }
  if (!in || !w || !out || w->size() < 3 || in->size() < 2) {
    return {name, 0, 0, false};
  }
  c.kind = std::string(transposed ? "conv_transpose" : "conv") +
           std::to_string(w->size() - 2) + "d";
  // Per output (input, if transposed) position and batch element, every
  // weight is used once: Cout × Cin/groups × kernel elements.
  int64_t weights = product(*w);
  int64_t channel_dim =
      static_cast<int64_t>(in->size()) == static_cast<int64_t>(w->size())
          ? 1
          : 0;  // unbatched input: (C, H, W)
  if (transposed) {
    int64_t in_numel = product(*in);
    c.macs = in_numel / (*in)[channel_dim] * weights;
  } else {
    c.macs = out_numel / (*out)[channel_dim] * weights;
  }
  c.flops = 2 * c.macs + (has_tensor_input(n, 2) ? out_numel : 0);
  return c;
}

/// Work of adaptive pooling over the last `rank` dims: the exact bin sizes.
int64_t adaptive_pool_work(const std::vector<int64_t>& in,
                           const std::vector<int64_t>& out, int rank) {
  int64_t work = product(in);
  for (int d = 0; d < rank; ++d) {
    int64_t isz = in[in.size() - rank + d];
    int64_t osz = out[out.size() - rank + d];
    int64_t sum = 0;
    for (int64_t i = 0; i < osz; ++i) {
      int64_t start = (i * isz) / osz;
      int64_t end = ((i + 1) * isz + osz - 1) / osz;
      sum += end - start;
    }
    // Replace this dim's input extent by the summed bin extents.
    work = work / isz * sum;
  }
  return work;
}

Cost cost_of(const Node* n, const std::string& name, int64_t act_in_numel) {
  int64_t out_numel = n->outputs().empty() ? 0 : numel(n->output(0));
  if (conv_ops().count(name)) return conv_cost(n, name, out_numel);
  if (name == "linear") {
    auto w = sizes_of(n->input(1));
    if (!w || w->empty()) return {name, 0, 0, false};
    int64_t macs = out_numel * w->back();
    return {name, macs, 2 * macs + (has_tensor_input(n, 2) ? out_numel : 0)};
  }
  if (name == "matmul" || name == "mm" || name == "bmm" || name == "mv" ||
      name == "dot" || name == "addmm" || name == "baddbmm" ||
      name == "addbmm") {
    bool with_add = name == "addmm" || name == "baddbmm" || name == "addbmm";
    auto a = sizes_of(n->input(with_add ? 1 : 0));
    if (!a || a->empty()) return {name, 0, 0, false};
    int64_t k = a->back();
    int64_t macs = (name == "addbmm" ? out_numel * (*a)[0] : out_numel) * k;
    return {name, macs, 2 * macs + (with_add ? out_numel : 0)};
  }
  if (name == "batch_norm") return {name, 0, 2 * out_numel};
  if (name == "layer_norm" || name == "group_norm" || name == "instance_norm") {
    return {name, 0, 5 * out_numel};
  }
  if (name == "softmax" || name == "log_softmax" || name == "_softmax" ||
      name == "_log_softmax") {
    return {name, 0, 3 * out_numel};
  }
  if (name.find("adaptive_") == 0 && name.find("pool") != std::string::npos) {
    int rank = spatial_rank(name);
    auto in = sizes_of(n->input(0));
    auto out = sizes_of(n->output(0));
    if (!in || !out || rank == 0 || static_cast<int>(in->size()) < rank) {
      return {name, 0, 0, false};
    }
    return {name, 0, adaptive_pool_work(*in, *out, rank)};
  }
  if (name.find("max_pool") == 0 || name.find("avg_pool") == 0) {
    int rank = spatial_rank(name);
    auto kernel = int_list(n->input(1));
    if (rank == 0 || kernel.empty()) return {name, 0, 0, false};
    int64_t k = kernel.size() == 1
                    ? static_cast<int64_t>(std::pow(kernel[0], rank))
                    : product(kernel);
    std::string kind = name.substr(0, name.find("_with_indices"));
    return {kind, 0, out_numel * k};
  }
  if (unary_ops().count(name) || binary_ops().count(name)) {
    return {name, 0, out_numel};
  }
  if (reduction_ops().count(name)) return {name, 0, act_in_numel};
  if (movement_ops().count(name)) return {name, 0, 0};
  return {name, 0, 0, false};
}

/// "a.b.conv.weight" → "a.b.conv"; "a.b" → "a"; "a" → "".
std::string parent_path(const std::string& path) {
  auto pos = path.rfind('.');
  return pos == std::string::npos ? std::string() : path.substr(0, pos);
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(s[i]);
  }
  return out + "]";
}

class GraphProfiler {
 public:
  GraphProfiler(const torch::jit::Graph& graph, std::vector<Source> sources)
      : graph_(graph), sources_(std::move(sources)) {}

  ModelProfile run() {
    auto inputs = graph_.inputs();
    if (inputs.size() != sources_.size() + 1) {
      throw InternalError("profile: the traced graph has " +
                          std::to_string(inputs.size()) + " inputs, expected " +
                          std::to_string(sources_.size() + 1));
    }
    info_[inputs[0]].activation = true;
    for (size_t i = 0; i < sources_.size(); ++i) {
      info_[inputs[i + 1]].roots.insert(i);
    }
    if (auto s = sizes_of(inputs[0])) result_.input_shape = *s;

    for (const Node* n : graph_.nodes()) visit(n);

    if (!graph_.outputs().empty()) {
      if (auto s = sizes_of(graph_.outputs()[0])) result_.output_shape = *s;
    }
    totals();
    return std::move(result_);
  }

 private:
  void visit(const Node* n) {
    // Every output inherits what its inputs are computed from.
    ValueInfo merged;
    for (const Value* v : n->inputs()) {
      const ValueInfo& in = info_[v];
      if (in.activation && !merged.activation) merged.scope = in.scope;
      merged.activation |= in.activation;
      merged.roots.insert(in.roots.begin(), in.roots.end());
    }
    for (const Value* v : n->outputs()) info_[v] = merged;

    if (!merged.activation || !n->kind().is_aten()) return;
    bool tensor_output =
        std::any_of(n->outputs().begin(), n->outputs().end(),
                    [](const Value* v) { return is_tensor(v); });
    if (!tensor_output) return;
    std::string name = base_name(n);
    if (view_ops().count(name)) return;
    if (name == "contiguous" && is_contiguous(n->input(0))) return;
    add_layer(n, name);
  }

  void add_layer(const Node* n, const std::string& op_name) {
    LayerProfile layer;
    layer.op = n->kind().toQualString();

    std::vector<const Value*> acts;
    std::vector<const Value*> weights;
    for (const Value* v : tensor_operands(n)) {
      auto& list = info_[v].activation ? acts : weights;
      if (std::find(list.begin(), list.end(), v) == list.end()) {
        list.push_back(v);
      }
    }
    int64_t in_bytes = 0;
    int64_t in_numel = 0;
    for (const Value* v : acts) {
      in_bytes += bytes(v);
      in_numel += numel(v);
    }
    std::optional<size_t> owner;
    for (const Value* v : weights) {
      layer.weight_bytes += bytes(v);
      const auto& roots = info_[v].roots;
      bool from_parameter = false;
      for (size_t r : roots) {
        used_.insert(r);
        from_parameter |= sources_[r].is_parameter;
        if (!owner || r < *owner) owner = r;
      }
      if (from_parameter) layer.params += numel(v);
    }
    for (const Value* v : n->outputs()) {
      if (is_tensor(v)) layer.activation_bytes += bytes(v);
    }
    if (!acts.empty()) {
      if (auto s = sizes_of(acts.front())) layer.input_shape = *s;
    }
    for (const Value* v : n->outputs()) {
      if (!is_tensor(v)) continue;
      if (auto s = sizes_of(v)) layer.output_shape = *s;
      break;
    }

    Cost cost = cost_of(n, op_name, in_numel);
    // LibTorch lowers linear to addmm (2-D input) or matmul + add_ before the
    // tracer sees it; a matrix product with a weight is a linear layer.
    if ((op_name == "addmm" || op_name == "mm" || op_name == "matmul") &&
        n->inputs().size() > 1 &&
        !info_[n->input(op_name == "addmm" ? 2 : 1)].activation) {
      cost.kind = "linear";
    }
    std::string owner_path = owner ? parent_path(sources_[*owner].name) : "";
    if (merge_bias_add(n, op_name, acts, owner_path, layer, cost)) return;
    layer.kind = cost.kind;
    layer.macs = cost.macs;
    layer.flops = cost.flops;
    if (!cost.modelled) {
      unmodelled_.insert(layer.op);
      log::debug("profile: no cost model for {} (input {}), counted as 0 MACs",
                 layer.op, shape_text(layer.input_shape));
    }
    layer.memory_access_bytes =
        in_bytes + layer.activation_bytes + layer.weight_bytes;

    // Name after the module owning the weights, else after the enclosing
    // module; later parameter-free layers inherit the enclosing module.
    std::string scope = info_[n->output(0)].scope;
    std::string base;
    if (owner) {
      base = owner_path;
      scope = parent_path(base);
      // The profiled module's own weights ("weight", not "conv.weight").
      if (base.empty()) base = layer.kind;
    } else {
      base = scope.empty() ? layer.kind : scope + "." + layer.kind;
    }
    int count = ++name_counts_[base];
    layer.name = count == 1 ? base : base + "#" + std::to_string(count);
    for (const Value* v : n->outputs()) info_[v].scope = scope;

    last_output_ = n->output(0);
    last_owner_path_ = owner_path;
    result_.peak_activation_bytes = std::max(result_.peak_activation_bytes,
                                             in_bytes + layer.activation_bytes);
    result_.layers.push_back(std::move(layer));
  }

  /// Folds the bias add of a lowered linear layer (matmul, then add_ of the
  /// same module's bias) into that layer, which then reads the bias once
  /// more; the intermediate write and re-read are an artefact of the
  /// lowering, not of the layer. Returns whether it did.
  bool merge_bias_add(const Node* n, const std::string& op_name,
                      const std::vector<const Value*>& acts,
                      const std::string& owner_path, const LayerProfile& layer,
                      const Cost& cost) {
    if (op_name != "add" || result_.layers.empty() || acts.size() != 1 ||
        acts[0] != last_output_ || layer.params == 0 ||
        owner_path != last_owner_path_) {
      return false;
    }
    LayerProfile& prev = result_.layers.back();
    if (prev.kind != "linear") return false;
    prev.params += layer.params;
    prev.flops += cost.flops;
    prev.weight_bytes += layer.weight_bytes;
    prev.memory_access_bytes += layer.weight_bytes;
    for (const Value* v : n->outputs()) info_[v].scope = info_[acts[0]].scope;
    last_output_ = n->output(0);
    return true;
  }

  void totals() {
    for (const auto& l : result_.layers) {
      result_.macs += l.macs;
      result_.flops += l.flops;
      result_.activation_bytes += l.activation_bytes;
      result_.memory_access_bytes += l.memory_access_bytes;
    }
    for (size_t r : used_) {
      const auto& t = sources_[r].tensor;
      int64_t n = t.numel();
      if (sources_[r].is_parameter) {
        result_.params += n;
        result_.storage_int8_bytes += t.dim() >= 2 ? n : 4 * n;
      } else {
        result_.buffer_elements += n;
        result_.storage_int8_bytes += 4 * n;
      }
    }
    result_.storage_fp32_bytes = 4 * (result_.params + result_.buffer_elements);
    result_.unmodelled_ops.assign(unmodelled_.begin(), unmodelled_.end());
  }

  const torch::jit::Graph& graph_;
  std::vector<Source> sources_;
  std::unordered_map<const Value*, ValueInfo> info_;
  std::set<size_t> used_;
  std::set<std::string> unmodelled_;
  std::map<std::string, int> name_counts_;
  const Value* last_output_ = nullptr;
  std::string last_owner_path_;
  ModelProfile result_;
};

}  // namespace

ModelProfile profile(torch::nn::Module& module, const ForwardFn& fn,
                     const torch::Tensor& example_input) {
  if (!example_input.defined()) {
    throw ProfileError("profile: the example input is undefined");
  }
  std::vector<Source> sources = collect_sources(module);

  std::shared_ptr<torch::jit::tracer::TracingState> state;
  {
    EvalModeGuard eval(module);
    torch::NoGradGuard no_grad;
    // Parameters and buffers are trace inputs, not constants: the graph then
    // says exactly which of them each op reads, and nothing needs its
    // requires_grad flag changed.
    torch::jit::Stack inputs;
    inputs.reserve(sources.size() + 1);
    inputs.emplace_back(example_input);
    for (const auto& s : sources) inputs.emplace_back(s.tensor);
    auto traced = [&](torch::jit::Stack in) -> torch::jit::Stack {
      torch::Tensor y = fn(in.at(0).toTensor());
      if (!y.defined()) {
        throw ProfileError(
            "profile: the forward function returned an "
            "undefined tensor");
      }
      return {y};
    };
    try {
      state = torch::jit::tracer::trace(
                  std::move(inputs), traced,
                  [](const torch::autograd::Variable&) { return ""; },
                  /*strict=*/true, /*force_outplace=*/false)
                  .first;
    } catch (const ProfileError&) {
      throw;
    } catch (const std::exception& e) {
      throw ProfileError("profile: cannot trace the module for input " +
                         shape_text(example_input.sizes().vec()) + ": " +
                         error_text(e));
    }
  }
  return GraphProfiler(*state->graph, std::move(sources)).run();
}

ModelProfile profile(torch::nn::Module& module, const ForwardFn& fn,
                     const std::vector<int64_t>& input_shape) {
  for (int64_t d : input_shape) {
    if (d <= 0) {
      throw ProfileError("profile: input shape " + shape_text(input_shape) +
                         " must have positive sizes");
    }
  }
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  for (const auto& s : collect_sources(module)) {
    if (s.tensor.is_floating_point()) {
      options = s.tensor.options().requires_grad(false);
      break;
    }
  }
  auto generator = at::detail::createCPUGenerator(/*seed_val=*/0);
  auto x = torch::randn(input_shape, generator, options.device(torch::kCPU))
               .to(options.device());
  return profile(module, fn, x);
}

ModelProfile profile(torch::nn::AnyModule& module,
                     const std::vector<int64_t>& input_shape) {
  if (module.is_empty()) {
    throw ProfileError("profile: the AnyModule holds no module");
  }
  return profile(
      *module.ptr(),
      [&](torch::Tensor x) { return module.forward<torch::Tensor>(x); },
      input_shape);
}

}  // namespace adascale::search

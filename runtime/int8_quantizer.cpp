#include "runtime/int8_quantizer.h"

#include <ATen/Context.h>
#include <ATen/native/quantized/PackedParams.h>
#include <fmt/format.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/quantization/finalize.h>
#include <torch/csrc/jit/passes/quantization/insert_observers.h>
#include <torch/csrc/jit/passes/quantization/insert_quant_dequant.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace adascale::runtime {
namespace {

using torch::jit::Module;
using torch::jit::Node;
using torch::jit::Value;

// The passes clone these TorchScript modules next to every tensor they
// quantize, and read them as they read Python's observers: the `dtype` and
// `qscheme` attributes (`ch_axis` per channel) and `calculate_qparams()`.
Module activation_observer() {
  Module m(c10::QualifiedName("__torch__.adascale.ActivationObserver"));
  m.register_attribute("dtype", c10::IntType::get(), int64_t(at::kQUInt8));
  m.register_attribute("qscheme", c10::IntType::get(),
                       int64_t(at::kPerTensorAffine));
  m.register_buffer("min_val",
                    torch::full({}, std::numeric_limits<float>::infinity()));
  m.register_buffer("max_val",
                    torch::full({}, -std::numeric_limits<float>::infinity()));
  // The range always holds 0, so that zero padding is exact.
  m.define(R"JIT(
def forward(self, x: Tensor) -> Tensor:
    v = x.detach()
    self.min_val = torch.min(self.min_val, torch.min(v))
    self.max_val = torch.max(self.max_val, torch.max(v))
    return x

def calculate_qparams(self) -> Tuple[Tensor, Tensor]:
    lo = torch.clamp(self.min_val, max=0.0)
    hi = torch.clamp(self.max_val, min=0.0)
    scale = torch.clamp((hi - lo) / 255.0, min=1e-8)
    zero_point = torch.clamp(torch.round(-lo / scale), 0, 255).int()
    return scale.reshape([1]), zero_point.reshape([1])
)JIT");
  return m;
}

Module weight_observer() {
  Module m(c10::QualifiedName("__torch__.adascale.WeightObserver"));
  m.register_attribute("dtype", c10::IntType::get(), int64_t(at::kQInt8));
  m.register_attribute("qscheme", c10::IntType::get(),
                       int64_t(at::kPerChannelSymmetric));
  m.register_attribute("ch_axis", c10::IntType::get(), int64_t(0));
  m.register_buffer("abs_max", torch::zeros({0}));
  // Symmetric over [-128, 127]: scale = max |w| / 127.5 per output channel.
  m.define(R"JIT(
def forward(self, w: Tensor) -> Tensor:
    self.abs_max = torch.amax(torch.abs(w.detach()).flatten(1), [1])
    return w

def calculate_qparams(self) -> Tuple[Tensor, Tensor]:
    scale = torch.clamp(self.abs_max / 127.5, min=1e-8)
    return scale, torch.zeros_like(scale).int()
)JIT");
  return m;
}

bool is_attribute_of(const Value* v, const Value* self) {
  return v->node()->kind() == c10::prim::GetAttr && v->node()->input(0) == self;
}

at::Tensor attribute_tensor(const Module& module, const Value* v) {
  return module.attr(v->node()->s(c10::attr::name)).toTensor();
}

std::string fresh_attribute(const Module& module, const std::string& stem) {
  for (int i = 0;; ++i) {
    std::string name = fmt::format("{}_{}", stem, i);
    if (!module.hasattr(name)) return name;
  }
}

// Folds every inference batch_norm that alone consumes a convolution's
// output into that convolution: new weight and bias attributes, the norm
// gone. torch::jit::FoldConvBatchNorm does this only for Conv2d and
// BatchNorm2d submodules; a traced block holds its tensors flat on one
// module, so the rewrite is done here on the graph. Returns the count.
int fold_batch_norms(Module& module) {
  static const auto conv2d = c10::Symbol::fromQualString("aten::conv2d");
  static const auto convolution =
      c10::Symbol::fromQualString("aten::_convolution");
  static const auto batch_norm =
      c10::Symbol::fromQualString("aten::batch_norm");
  auto graph = module.get_method("forward").graph();
  Value* self = graph->inputs().at(0);
  std::vector<Node*> norms;
  for (Node* n : graph->nodes()) {
    if (n->kind() == batch_norm) norms.push_back(n);
  }
  int folded = 0;
  for (Node* norm : norms) {
    // batch_norm(input, weight, bias, mean, var, training, momentum, eps, …)
    Node* conv = norm->input(0)->node();
    if ((conv->kind() != conv2d && conv->kind() != convolution) ||
        norm->input(0)->uses().size() != 1) {
      continue;
    }
    auto training = torch::jit::toIValue(norm->input(5));
    auto eps = torch::jit::toIValue(norm->input(7));
    if (!training || !training->isBool() || training->toBool() || !eps ||
        !eps->isDouble()) {
      continue;
    }
    bool attributes = is_attribute_of(conv->input(1), self);
    for (size_t i = 1; i <= 4; ++i) {
      attributes = attributes && is_attribute_of(norm->input(i), self);
    }
    // conv2d(input, weight, bias, …): the bias is an attribute or None.
    auto no_bias = torch::jit::toIValue(conv->input(2));
    const bool has_bias = is_attribute_of(conv->input(2), self);
    if (!attributes || !(has_bias || (no_bias && no_bias->isNone()))) continue;

    at::Tensor weight = attribute_tensor(module, conv->input(1));
    at::Tensor bias = has_bias
                          ? attribute_tensor(module, conv->input(2))
                          : torch::zeros({weight.size(0)}, weight.options());
    at::Tensor scale = attribute_tensor(module, norm->input(1)) *
                       torch::rsqrt(attribute_tensor(module, norm->input(4)) +
                                    eps->toDouble());
    std::vector<int64_t> shape(size_t(weight.dim()), 1);
    shape[0] = -1;
    at::Tensor new_weight = weight * scale.reshape(shape);
    at::Tensor new_bias =
        (bias - attribute_tensor(module, norm->input(3))) * scale +
        attribute_tensor(module, norm->input(2));

    const std::string weight_name = fresh_attribute(module, "folded_weight");
    module.register_parameter(weight_name, new_weight, false);
    const std::string bias_name = fresh_attribute(module, "folded_bias");
    module.register_parameter(bias_name, new_bias, false);
    torch::jit::WithInsertPoint point(conv);
    conv->replaceInput(1, graph->insertGetAttr(self, weight_name));
    conv->replaceInput(2, graph->insertGetAttr(self, bias_name));
    norm->output()->replaceAllUsesWith(conv->output());
    norm->destroy();
    ++folded;
  }
  torch::jit::EliminateDeadCode(graph);
  return folded;
}

// quantized::conv2d followed by a ReLU becomes quantized::conv2d_relu. The
// passes fuse that pair only for Conv2d submodules, so in a flat traced
// block they observe the convolution's output before the ReLU, negatives
// included. The fused op clamps at the zero point, so its output range is
// [0, hi] of the observed [lo, hi]: it gets the scale hi / 255 and zero
// point 0, all 256 levels on values the ReLU keeps.
int fuse_conv_relu(torch::jit::Graph& graph) {
  static const auto conv = c10::Symbol::fromQualString("quantized::conv2d");
  static const auto conv_relu =
      c10::Symbol::fromQualString("quantized::conv2d_relu");
  static const auto relu = c10::Symbol::fromQualString("aten::relu");
  static const auto relu_ = c10::Symbol::fromQualString("aten::relu_");
  std::vector<Node*> convs;
  for (Node* n : graph.nodes()) {
    if (n->kind() == conv) convs.push_back(n);
  }
  int fused = 0;
  for (Node* c : convs) {
    // quantized::conv2d(qx, packed, scale, zero_point)
    if (c->output()->uses().size() != 1) continue;
    Node* r = c->output()->uses()[0].user;
    auto scale = torch::jit::toIValue(c->input(2));
    auto zero_point = torch::jit::toIValue(c->input(3));
    if ((r->kind() != relu && r->kind() != relu_) || !scale || !zero_point) {
      continue;
    }
    const double hi = (255 - zero_point->toInt()) * scale->toDouble();
    torch::jit::WithInsertPoint point(c);
    Node* fused_node = graph.insertNode(
        graph.create(conv_relu, {c->input(0), c->input(1),
                                 graph.insertConstant(std::max(hi / 255, 1e-8)),
                                 graph.insertConstant(int64_t(0))}));
    fused_node->output()->setType(c->output()->type());
    r->output()->replaceAllUsesWith(fused_node->output());
    r->destroy();
    c->destroy();
    ++fused;
  }
  return fused;
}

}  // namespace

bool int8_available() {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) !=
         engines.end();
}

torch::jit::Module quantize_int8(const torch::jit::Module& traced,
                                 const std::vector<torch::Tensor>& calibration,
                                 const std::string& name) {
  if (calibration.empty()) {
    throw UsageError("int8 block " + name + ": no calibration images");
  }
  if (!int8_available()) {
    throw ConfigError("int8 block " + name +
                      ": this LibTorch has no oneDNN quantized engine");
  }
  // Packing happens in Finalize and follows the global engine.
  at::globalContext().setQEngine(at::QEngine::ONEDNN);
  try {
    Module module = traced.clone();
    module.eval();
    fold_batch_norms(module);
    torch::jit::QConfigDict qconfig{
        {"", torch::jit::QConfig{activation_observer(), weight_observer()}}};
    module = torch::jit::InsertObservers(module, "forward", qconfig,
                                         /*inplace=*/true);
    {
      torch::NoGradGuard no_grad;
      for (const auto& x : calibration) module.forward({x});
    }
    module = torch::jit::InsertQuantDeQuant(module, "forward",
                                            /*inplace=*/true, /*debug=*/false);
    module = torch::jit::Finalize(module);
    auto graph = module.get_method("forward").graph();
    torch::jit::ConstantPropagation(graph);
    fuse_conv_relu(*graph);
    torch::jit::EliminateDeadCode(graph);
    return module;
  } catch (const c10::Error& e) {
    throw ConfigError("int8 block " + name + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    // TorchScript errors end with their cause after a source traceback.
    std::string what = e.what();
    while (!what.empty() && what.back() == '\n') what.pop_back();
    throw ConfigError("int8 block " + name + ": " +
                      what.substr(what.find_last_of('\n') + 1));
  }
}

int64_t packed_weight_bytes(const torch::jit::Module& quantized) {
  int64_t bytes = 0;
  auto add = [&](const std::tuple<at::Tensor, c10::optional<at::Tensor>>& w) {
    bytes += std::get<0>(w).nbytes();
    if (std::get<1>(w)) bytes += std::get<1>(w)->nbytes();
  };
  for (const auto& a : quantized.named_attributes(/*recurse=*/true)) {
    const c10::IValue& v = a.value;
    if (v.isTensor()) {
      bytes += v.toTensor().nbytes();
    } else if (v.isObject()) {
      // The packed convolutions and linears Finalize made.
      const std::string type = v.type()->str();
      if (type.find("Conv2dPackedParamsBase") != std::string::npos) {
        add(v.toCustomClass<ConvPackedParamsBase<2>>()->unpack());
      } else if (type.find("LinearPackedParamsBase") != std::string::npos) {
        add(v.toCustomClass<LinearPackedParamsBase>()->unpack());
      }
    }
  }
  return bytes;
}

}  // namespace adascale::runtime

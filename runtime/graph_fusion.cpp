#include "runtime/graph_fusion.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <functional>
#include <unordered_set>

#include "core/error.h"

namespace adascale::runtime {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// Every node of `block` and of the blocks nested in it (prim::If, loops).
void visit_nodes(Block* block, const std::function<void(Node*)>& fn) {
  for (Node* node : block->nodes()) {
    fn(node);
    for (Block* inner : node->blocks()) visit_nodes(inner, fn);
  }
}

// The tensor held by a prim::Constant, if it holds one.
const at::Tensor* constant_tensor(const Node* node) {
  if (node->kind() != c10::prim::Constant ||
      !node->hasAttribute(torch::jit::attr::value) ||
      node->kindOf(torch::jit::attr::value) != torch::jit::AttributeKind::t) {
    return nullptr;
  }
  return &node->t(torch::jit::attr::value);
}

int64_t tensor_bytes(const at::Tensor& t) {
  return t.numel() * int64_t(t.element_size());
}

Value* convert(Graph& graph, Value* x, bool to_mkldnn) {
  return graph.insert(c10::Symbol::aten(to_mkldnn ? "to_mkldnn" : "to_dense"),
                      {x});
}

Value* to_channels_last(Graph& graph, Value* x) {
  return graph.insert(c10::Symbol::aten("contiguous"), {x},
                      {torch::jit::NamedValue(
                          "memory_format", c10::MemoryFormat::ChannelsLast)});
}

}  // namespace

torch::jit::Module fuse_parts(const std::vector<FusablePart>& parts,
                              const std::string& name) {
  if (parts.empty()) throw UsageError("fusing " + name + ": no blocks given");
  torch::jit::Module fused(c10::QualifiedName("__torch__.adascale." + name));
  auto graph = std::make_shared<Graph>();
  Value* self = graph->addInput("self")->setType(fused.type());
  Value* x = graph->addInput("x")->setType(c10::TensorType::get());
  bool mkldnn = false;
  bool channels_last = false;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::shared_ptr<Graph> callee =
        parts[i].module.get_method("forward").graph();
    if (callee->inputs().size() != 2 || callee->outputs().size() != 1) {
      throw ConfigError("fusing " + name + ": block " + std::to_string(i) +
                        " is not a Tensor -> Tensor graph");
    }
    // Frozen graphs read nothing from their module, which is what lets
    // them run inside another module's graph.
    if (callee->inputs()[0]->hasUses()) {
      throw ConfigError("fusing " + name + ": block " + std::to_string(i) +
                        " is not frozen (it reads its module's attributes)");
    }
    if (parts[i].mkldnn_in != mkldnn) {
      x = convert(*graph, x, parts[i].mkldnn_in);
    }
    if (parts[i].channels_last_in && !channels_last) {
      x = to_channels_last(*graph, x);
    }
    x = torch::jit::insertGraph(*graph, *callee, {self, x}).at(0);
    mkldnn = parts[i].mkldnn_out;
    channels_last = parts[i].channels_last_in;
  }
  if (mkldnn) x = convert(*graph, x, false);
  graph->registerOutput(x);
  torch::jit::EliminateDeadCode(graph);
  auto method = fused._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*fused.type()->name(), "forward"), graph);
  fused.type()->addMethod(method);
  fused.eval();
  return fused;
}

int64_t fused_extra_bytes(const torch::jit::Module& fused,
                          const std::vector<FusablePart>& parts) {
  std::unordered_set<const c10::TensorImpl*> shared;
  for (const FusablePart& part : parts) {
    visit_nodes(part.module.get_method("forward").graph()->block(),
                [&](Node* node) {
                  if (const at::Tensor* t = constant_tensor(node)) {
                    shared.insert(t->unsafeGetTensorImpl());
                  }
                });
  }
  int64_t bytes = 0;
  visit_nodes(fused.get_method("forward").graph()->block(), [&](Node* node) {
    const at::Tensor* t = constant_tensor(node);
    if (t && !shared.count(t->unsafeGetTensorImpl())) bytes += tensor_bytes(*t);
  });
  return bytes;
}

int64_t graph_constant_bytes(const torch::jit::Module& module) {
  int64_t bytes = 0;
  visit_nodes(module.get_method("forward").graph()->block(), [&](Node* node) {
    if (const at::Tensor* t = constant_tensor(node)) bytes += tensor_bytes(*t);
  });
  return bytes;
}

}  // namespace adascale::runtime

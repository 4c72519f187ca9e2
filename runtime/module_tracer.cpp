#include "runtime/module_tracer.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/passes/fixup_trace_scope_blocks.h>
#include <torch/csrc/jit/passes/normalize_ops.h>

#include <algorithm>

#include "core/error.h"

namespace adascale::runtime {
namespace {

// Attribute names may not contain '.', which nested C++ names do.
std::string attribute_name(std::string name) {
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

}  // namespace

torch::jit::Module trace_module(
    torch::nn::Module& module,
    const std::function<torch::Tensor(const torch::Tensor&)>& fn,
    const torch::Tensor& example, const std::string& name) {
  torch::NoGradGuard no_grad;
  torch::jit::Module self(c10::QualifiedName("__torch__.adascale." + name));
  for (const auto& p : module.named_parameters(/*recurse=*/true))
    self.register_parameter(attribute_name(p.key()), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/true))
    self.register_buffer(attribute_name(b.key()), b.value());

  std::shared_ptr<torch::jit::Graph> graph;
  try {
    auto traced = torch::jit::tracer::trace(
        {example},
        [&](torch::jit::Stack inputs) -> torch::jit::Stack {
          return {fn(inputs.at(0).toTensor())};
        },
        [](const torch::autograd::Variable&) { return std::string(); },
        /*strict=*/true, /*force_outplace=*/false, &self);
    graph = traced.first->graph;
  } catch (const c10::Error& e) {
    throw ConfigError("cannot trace " + name + ": " +
                      e.what_without_backtrace());
  }
  // The tracer leaves attribute reads as prim::TracedAttr; this turns them
  // into prim::GetAttr on `self`, as torch.jit.trace does.
  torch::jit::FixupTraceScopeBlocks(graph, &self);
  torch::jit::NormalizeOps(graph);
  auto method = self._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*self.type()->name(), "forward"), graph);
  self.type()->addMethod(method);
  self.eval();
  return self;
}

torch::jit::Module optimize_for_inference(const torch::jit::Module& traced) {
  torch::jit::Module copy = traced.clone();
  copy.eval();
  torch::jit::Module frozen = torch::jit::freeze(copy);
  return torch::jit::optimize_for_inference(frozen);
}

}  // namespace adascale::runtime

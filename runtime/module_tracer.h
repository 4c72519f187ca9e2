#pragma once
/// Turns a C++-frontend computation into a TorchScript module (DESIGN §3.5):
/// LibTorch's tracer records `fn(example)` while the parameters and buffers
/// of `module` are registered, as the same tensors, on a fresh
/// torch::jit::Module, so the recorded graph reads them as attributes
/// instead of baking them in as constants. The result can be saved and run
/// by `torch.jit.load` in Python, or frozen and optimised for inference.
///
/// Tracing records one path through the code: control flow that depends on
/// the input's values is not captured. The elastic net's blocks and a fixed
/// variant have none.

#include <torch/script.h>
#include <torch/torch.h>

#include <functional>
#include <string>

namespace adascale::runtime {

/// A TorchScript module whose `forward(Tensor) -> Tensor` computes `fn`.
/// `module` must own every tensor `fn` reads that is not derived from its
/// input. `name` becomes the module's type name (letters, digits, '_').
/// Tracing runs without autograd; the parameters keep their requires_grad.
/// Throws ConfigError when `fn` cannot be traced.
torch::jit::Module trace_module(
    torch::nn::Module& module,
    const std::function<torch::Tensor(const torch::Tensor&)>& fn,
    const torch::Tensor& example, const std::string& name);

/// `traced` frozen (attributes inlined as constants) and rewritten for
/// inference by LibTorch's own passes: BatchNorm folded into the preceding
/// convolution, and convolutions prepacked for MKL-DNN where LibTorch was
/// built with it. The result is independent of the original tensors.
torch::jit::Module optimize_for_inference(const torch::jit::Module& traced);

}  // namespace adascale::runtime

#pragma once
/// The intrinsic profiler (paper §IV-B, DESIGN §3.4): parameters, MACs,
/// FLOPs, storage, activation memory and memory accesses (paper eq. 4) of any
/// torch::nn module for one input shape, per layer and in total.
///
/// How it works: the call is traced with LibTorch's JIT tracer (the C++
/// frontend has no forward hooks). The module's parameters and buffers are
/// trace *inputs*, so every op that reads a weight names it exactly, and a
/// multi-path module profiled along one path counts only the weights that
/// path reads. The module runs in eval mode under NoGradGuard; each
/// submodule's train/eval flag is restored afterwards, and parameters are
/// never modified (not even their requires_grad flag).
///
/// Conventions (all counts are for the whole batch of the given input shape):
/// - Layers are the compute nodes of the traced graph that read an
///   activation (a value computed from the model input): convolutions,
///   linear/matmul-like ops, normalisation, pooling, activations,
///   elementwise arithmetic, reductions, softmax, and data-movement ops
///   (cat, stack, pad, clone, a copying `contiguous`, ...), listed in
///   execution order. Views (view, reshape, flatten, permute, transpose,
///   slice, chunk, a no-op `contiguous`, dropout in eval, ...) are folded
///   away: they move no data. Ops that only read weights (e.g. slicing an
///   attention in-projection weight) are folded too, as inference would
///   precompute them; their result counts as a weight of the layer that
///   reads it. In-place ops count like their out-of-place forms (an in-place
///   `relu_` still reads and writes its tensor). LibTorch lowers
///   nn::Linear to addmm, or to matmul + add_ of the bias, before the tracer
///   sees it: a matrix product with a weight is reported as one "linear"
///   layer, its bias add folded in. Ops whose results never reach the output
///   are dropped by the tracer and not counted.
/// - Names: a layer that reads a parameter (or buffer) is named after the
///   module owning it ("stages.0.conv1.conv"); other layers are named
///   "<enclosing module>.<kind>" ("layer1.0.relu"), the enclosing module being
///   inherited along the data flow (the trace records no module scopes, so a
///   pool in a network's own forward after its last block is named after
///   that block); a layer of the profiled module's own weights is named after
///   its kind; repeats get "#2", "#3", ...
/// - MACs: only convolution (output elements × in_channels/groups × kernel
///   elements; transposed: input elements × out_channels/groups × kernel
///   elements), linear (output elements × in_features) and matmul-like ops
///   (matmul, mm, bmm, addmm, baddbmm, mv, dot: output elements × the
///   contracted dimension).
/// - FLOPs: 2·MACs, plus one per output element for a bias or the added
///   matrix of addmm/baddbmm; batch norm (inference, statistics are
///   constants): 2 per element (scale and shift); layer/group/instance norm:
///   5 per element (statistics 3, normalise-scale-shift 2); activations and
///   elementwise unary/binary ops: 1 per output element; softmax and
///   log-softmax: 3 per element (exp, sum, divide); pooling: kernel elements
///   per output element (adaptive pooling: the exact bin sizes); reductions
///   (mean, sum, amax, ...): 1 per input element; data movement: 0.
/// - Memory accesses (eq. 4): per layer, (distinct activation inputs +
///   outputs + weights + biases) × bytes per element of each tensor's dtype.
///   "Weights" are all non-activation tensor operands: parameters, buffers
///   (BN running statistics are read, so they count) and constants.
///   Operands count with the size the op sees (a slice counts its elements).
/// - params: elements of the distinct parameters the traced path reads
///   (buffers excluded). Per layer: elements of its parameter operands; with
///   weight sharing the per-layer sum can exceed the total.
/// - storage_fp32_bytes: (params + elements of the buffers the path reads)
///   × 4: the size of the saved tensors (buffers only read in training, like
///   BN's num_batches_tracked, are not read in eval and not counted).
///   storage_int8_bytes: weights (parameters of rank ≥ 2) 1 byte each;
///   biases, BN affine parameters (rank ≤ 1) and buffers 4 bytes each (int32
///   biases and fp32 scale/shift, as in post-training int8 quantisation);
///   quantisation scales and zero points are not counted.
/// - activation_bytes: Σ over layers of output bytes (the model input is not
///   included). peak_activation_bytes: max over layers of (activation input
///   + output) bytes, a lower bound of the live activation memory (a
///   residual branch kept alive across layers is not added).
/// - Ops the profiler has no cost model for still appear as layers (with
///   their memory accesses, 0 MACs and 0 FLOPs) and are listed in
///   ModelProfile::unmodelled_ops, so a zero is never silent.

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace adascale::search {

/// The module could not be profiled (it cannot be traced, or the traced
/// function does not return one tensor).
class ProfileError : public Error {
 public:
  using Error::Error;
};

/// One compute node of the traced graph.
struct LayerProfile {
  /// Owning module path, or "<enclosing module>.<kind>" (see the conventions).
  std::string name;
  /// What it computes: conv2d, linear, batch_norm, relu, add, max_pool2d, ...
  std::string kind;
  /// The ATen op that was traced ("aten::_convolution").
  std::string op;
  /// Shape of the first activation input.
  std::vector<int64_t> input_shape;
  /// Shape of the first output.
  std::vector<int64_t> output_shape;
  /// Elements of the parameters this layer reads.
  int64_t params = 0;
  /// Multiply-accumulates (conv, linear, matmul-like ops only).
  int64_t macs = 0;
  /// Floating-point operations (see the conventions).
  int64_t flops = 0;
  /// Bytes of the weights, biases, buffers and constants this layer reads.
  int64_t weight_bytes = 0;
  /// Bytes of the outputs.
  int64_t activation_bytes = 0;
  /// (inputs + outputs + weights + biases) bytes: paper eq. 4 for one layer.
  int64_t memory_access_bytes = 0;
};

/// A model's intrinsic profile for one input shape.
struct ModelProfile {
  /// The layers in execution order.
  std::vector<LayerProfile> layers;
  /// Shape profiled.
  std::vector<int64_t> input_shape;
  /// Shape of the traced function's output.
  std::vector<int64_t> output_shape;
  /// Elements of the distinct parameters the traced path reads.
  int64_t params = 0;
  /// Elements of the distinct buffers the traced path reads.
  int64_t buffer_elements = 0;
  /// Σ layer MACs.
  int64_t macs = 0;
  /// Σ layer FLOPs.
  int64_t flops = 0;
  /// (params + buffer_elements) × 4.
  int64_t storage_fp32_bytes = 0;
  /// Rank ≥ 2 parameters at 1 byte, everything else at 4.
  int64_t storage_int8_bytes = 0;
  /// Σ layer output bytes.
  int64_t activation_bytes = 0;
  /// max over layers of (input + output) activation bytes.
  int64_t peak_activation_bytes = 0;
  /// Σ layer memory accesses: paper eq. 4.
  int64_t memory_access_bytes = 0;
  /// Sorted ATen ops that were counted with 0 MACs and 0 FLOPs because the
  /// profiler has no cost model for them (their memory accesses count).
  std::vector<std::string> unmodelled_ops;
};

/// The function profiled: runs the module on one input tensor.
using ForwardFn = std::function<torch::Tensor(torch::Tensor)>;

/// Profiles fn(x) for an x of `example_input`'s shape, dtype and device,
/// where fn runs `module` (a lambda lets a caller profile one path of a
/// multi-path module: `[&](auto x) { return net->forward(x, variant); }`).
/// Only the example's shape, dtype and device matter, unless the module's
/// control flow depends on values. Runs one real forward pass (a ResNet18 at
/// 32×32 takes about two forward passes' time). Not safe while another
/// thread uses the module: it switches the module to eval mode and back.
/// Throws ProfileError.
ModelProfile profile(torch::nn::Module& module, const ForwardFn& fn,
                     const torch::Tensor& example_input);

/// As above, with a random input of `input_shape` (drawn from a private
/// generator, so the global RNG is untouched) with the dtype and device of
/// the module's first floating-point parameter or buffer (CPU fp32 if none).
ModelProfile profile(torch::nn::Module& module, const ForwardFn& fn,
                     const std::vector<int64_t>& input_shape);

/// Profiles `module.forward(x)`.
ModelProfile profile(torch::nn::AnyModule& module,
                     const std::vector<int64_t>& input_shape);

/// Profiles `holder->forward(x)` for any module holder (torch::nn::Sequential,
/// torch::nn::Conv2d, a TORCH_MODULE of ours, ...).
template <typename Holder, typename = std::enable_if_t<std::is_base_of_v<
                               torch::detail::ModuleHolderIndicator, Holder>>>
ModelProfile profile(Holder& holder, const std::vector<int64_t>& input_shape) {
  return profile(
      *holder.ptr(), [&](torch::Tensor x) { return holder->forward(x); },
      input_shape);
}

}  // namespace adascale::search

#pragma once
/// Post-training int8 quantization of one traced block: the engine's third
/// form of a block, beside the eager modules and the frozen float graph.
///
/// It drives LibTorch's own graph-mode quantization passes (the ones
/// `torch.ao.quantization.quantize_jit` calls from Python) from C++:
/// BatchNorm folded into the convolution before it, observers inserted,
/// calibration batches run, then quantize/dequantize inserted and the graph
/// finalised into oneDNN int8 kernels with conv+ReLU and add+ReLU fused.
/// Activations are per-tensor affine uint8 from the min/max seen in
/// calibration; weights are per-output-channel symmetric int8.
///
/// The result takes and returns float tensors (quantized inside), so it
/// drops into a chain of blocks of any form.

#include <torch/script.h>

#include <cstdint>
#include <string>
#include <vector>

namespace adascale::runtime {

/// Whether this LibTorch has the oneDNN quantized engine that int8 blocks
/// run on (x86 builds with MKL-DNN do).
bool int8_available();

/// `traced` (trace_module's output, not frozen; left unchanged) quantized to
/// int8 with activation ranges taken from `calibration`: inputs of the
/// block, float N×C×H×W, typically a few hundred real images' worth.
/// Throws UsageError when `calibration` is empty, ConfigError naming `name`
/// when int8 is unavailable or LibTorch's passes refuse the graph.
torch::jit::Module quantize_int8(const torch::jit::Module& traced,
                                 const std::vector<torch::Tensor>& calibration,
                                 const std::string& name);

/// Bytes of the weights a quantize_int8 result holds: its packed int8
/// weights and float biases, plus any tensor attributes.
int64_t packed_weight_bytes(const torch::jit::Module& quantized);

}  // namespace adascale::runtime

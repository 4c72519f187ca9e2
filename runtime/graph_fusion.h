#pragma once
/// Fusion across block boundaries: the frozen graphs of a
/// variant's blocks stitched into one TorchScript graph, so the variant
/// runs as one call of the graph executor instead of one per block.
///
/// The stitched graph holds the blocks' own constants (the same tensors
/// and prepacked weights, shared by reference, not copied), so a fused
/// variant costs graph nodes and an executor plan, not a second copy of
/// its weights; fused_extra_bytes() measures what it does not share. It
/// runs the same operators on the same constants as the chain of blocks,
/// with a layout conversion wherever one block's output layout differs
/// from the next block's input layout, as the chain does between calls.

#include <torch/script.h>

#include <string>
#include <vector>

namespace adascale::runtime {

/// One block's graph form and the tensor layouts at its ends.
struct FusablePart {
  torch::jit::Module module;  ///< frozen; forward(self, Tensor) -> Tensor
  bool mkldnn_in = false;     ///< takes an MKL-DNN tensor
  bool mkldnn_out = false;    ///< returns an MKL-DNN tensor
  /// Given channels-last input (an XNNPACK graph); it then returns
  /// channels-last output, so only the first of a run of such parts
  /// converts.
  bool channels_last_in = false;
};

/// `parts` run in order as one module whose forward takes and returns a
/// dense tensor. `name` becomes its type name (letters, digits, '_').
/// Throws UsageError when `parts` is empty, ConfigError naming `name` when a
/// part's graph is not a frozen Tensor -> Tensor graph.
torch::jit::Module fuse_parts(const std::vector<FusablePart>& parts,
                              const std::string& name);

/// Bytes of the tensor constants of `fused` that no graph of `parts`
/// holds (by identity): what fusing cost in weights, 0 when all shared.
int64_t fused_extra_bytes(const torch::jit::Module& fused,
                          const std::vector<FusablePart>& parts);

/// Bytes of the tensor constants of a frozen graph (its weights once
/// freezing has inlined them, MKL-DNN prepacked ones included).
int64_t graph_constant_bytes(const torch::jit::Module& module);

}  // namespace adascale::runtime

#pragma once
/// Loading saved weights into a module, checked. torch::nn::Module::load()
/// copies each stored tensor in by name whatever its shape or type, so a
/// checkpoint of a differently sized model loads "successfully" and fails
/// later, far from the cause. This loader compares first.

#include <torch/torch.h>

namespace adascale::operators {

/// Loads `archive` into `module`, then checks that every parameter and
/// buffer kept the shape and scalar type the module gave it. Throws
/// DataError "weights do not fit the model: <name> is Float [3x3], the
/// model's is Float [4x3]" (or LibTorch's first line when a tensor is
/// missing); callers prefix the file. On a throw the module's weights are
/// partly overwritten: rebuild it or load a good archive.
void load_weights_checked(torch::nn::Module& module,
                          torch::serialize::InputArchive& archive);

}  // namespace adascale::operators

#pragma once
/// Knowledge distillation (Hinton et al., "Distilling the Knowledge in a
/// Neural Network", 2015), as "Be Your Own Teacher" (Zhang et al., 2019)
/// applies it to a network's own shallow exits.

#include <torch/torch.h>

namespace adascale::training {

/// T²·KL(softmax(teacher/T) ‖ softmax(student/T)), averaged over the batch.
/// The T² keeps its gradient on the scale of the cross-entropy's as T
/// grows. `teacher` carries no gradient (callers detach it).
torch::Tensor distillation_loss(const torch::Tensor& student,
                                const torch::Tensor& teacher,
                                double temperature);

}  // namespace adascale::training

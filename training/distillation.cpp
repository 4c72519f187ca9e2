#include "training/distillation.h"

#include "core/error.h"

namespace adascale::training {

torch::Tensor distillation_loss(const torch::Tensor& student,
                                const torch::Tensor& teacher,
                                double temperature) {
  if (student.sizes() != teacher.sizes()) {
    throw InternalError(
        "distillation: student and teacher logits differ in shape");
  }
  const double t = temperature;
  auto log_p_student = torch::log_softmax(student / t, 1);
  auto log_p_teacher = torch::log_softmax(teacher.detach() / t, 1);
  // Σ p_t (log p_t − log p_s) per sample, then the batch mean.
  auto kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1);
  return kl.mean() * (t * t);
}

}  // namespace adascale::training

#include "training/sync_batch_norm.h"

#include <torch/library.h>
#include <torch/torch.h>

#include <atomic>

#include "core/error.h"
#include "training/distributed.h"

namespace adascale::training {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The scope's communicator; the kernel is only registered while it is set.
std::atomic<Communicator*> g_comm{nullptr};

std::vector<int64_t> reduced_dims(const at::Tensor& x) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

/// [1, C, 1, ...] for broadcasting a per-channel vector over `x`.
std::vector<int64_t> channel_shape(const at::Tensor& x) {
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

/// y = (x − mean) · invstd · weight + bias with the global mean and invstd
/// (inputs, computed without gradients); backward is the full BatchNorm
/// gradient, its batch sums reduced over the ranks.
struct SyncBatchNormFunction
    : public torch::autograd::Function<SyncBatchNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input,
                            const at::Tensor& weight, const at::Tensor& bias,
                            const at::Tensor& mean, const at::Tensor& invstd,
                            double count) {
    const auto shape = channel_shape(input);
    ctx->save_for_backward({input, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    return (input - mean.view(shape)) * (invstd * weight).view(shape) +
           bias.view(shape);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& mean = saved[2];
    const at::Tensor& invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    const at::Tensor dy = grads[0];
    const auto dims = reduced_dims(x);
    const auto shape = channel_shape(x);
    const at::Tensor xmu = x - mean.view(shape);
    const at::Tensor sum_dy = dy.sum(dims);
    const at::Tensor sum_dy_xmu = (dy * xmu).sum(dims);
    // The input's gradient needs the sums over the global batch; the
    // weight's and bias's stay local (the gradient average divides them
    // by the world size, as every other parameter's).
    at::Tensor global = torch::stack({sum_dy, sum_dy_xmu});
    g_comm.load()->all_reduce_sum({global}, "synchronised BatchNorm backward");
    const at::Tensor mean_dy = (global[0] / count).view(shape);
    const at::Tensor mean_dy_xmu = (global[1] / count).view(shape);
    const at::Tensor is = invstd.view(shape);
    const at::Tensor grad_input =
        (dy - mean_dy - xmu * is * is * mean_dy_xmu) * is * weight.view(shape);
    return {grad_input,   sum_dy_xmu * invstd, sum_dy,
            at::Tensor(), at::Tensor(),        at::Tensor()};
  }
};

at::Tensor sync_batch_norm(const at::Tensor& input,
                           const c10::optional<at::Tensor>& weight,
                           const c10::optional<at::Tensor>& bias,
                           const c10::optional<at::Tensor>& running_mean,
                           const c10::optional<at::Tensor>& running_var,
                           bool training, double momentum, double eps,
                           bool cudnn_enabled) {
  Communicator* comm = g_comm.load();
  if (!training || comm == nullptr || input.dim() < 2) {
    // LibTorch's own batch_norm is this call (CompositeImplicitAutograd).
    return std::get<0>(at::_batch_norm_impl_index(
        input, weight, bias, running_mean, running_var, training, momentum, eps,
        cudnn_enabled));
  }
  const int64_t channels = input.size(1);
  at::Tensor mean, var;
  double count = 0;
  {
    torch::NoGradGuard no_grad;
    const at::Tensor x = input.detach();
    const auto [local_var, local_mean] =
        at::var_mean(x, reduced_dims(x), /*unbiased=*/false);
    const double n = double(x.numel() / std::max<int64_t>(1, channels));
    // Per rank: n·mean, n·(var + mean²) and n, in float64 so that the
    // global variance Q/N − mean² keeps the single-process precision.
    const at::Tensor m = local_mean.to(at::kDouble);
    const at::Tensor v = local_var.to(at::kDouble);
    at::Tensor stats =
        torch::cat({m * n, (v + m * m) * n, torch::full({1}, n, m.options())});
    comm->all_reduce_sum({stats}, "synchronised BatchNorm statistics");
    count = stats[2 * channels].item<double>();
    const at::Tensor global_mean = stats.narrow(0, 0, channels) / count;
    const at::Tensor global_var = (stats.narrow(0, channels, channels) / count -
                                   global_mean * global_mean)
                                      .clamp_min(0.0);
    mean = global_mean.to(input.scalar_type());
    var = global_var.to(input.scalar_type());
    if (running_mean && running_mean->defined()) {
      running_mean->mul_(1.0 - momentum).add_(mean, momentum);
    }
    if (running_var && running_var->defined()) {
      const double unbias = count > 1 ? count / (count - 1) : 1.0;
      running_var->mul_(1.0 - momentum).add_(var * unbias, momentum);
    }
  }
  const at::Tensor invstd = (var + eps).rsqrt();
  const auto options = input.options().memory_format(c10::nullopt);
  const at::Tensor w =
      weight && weight->defined() ? *weight : torch::ones({channels}, options);
  const at::Tensor b =
      bias && bias->defined() ? *bias : torch::zeros({channels}, options);
  return SyncBatchNormFunction::apply(input, w, b, mean, invstd, count);
}

}  // namespace

struct SyncBatchNormScope::Registration {
  torch::Library cpu{torch::Library::IMPL, "aten",
                     c10::DispatchKey::AutogradCPU, __FILE__, __LINE__};
  torch::Library cuda{torch::Library::IMPL, "aten",
                      c10::DispatchKey::AutogradCUDA, __FILE__, __LINE__};
};

SyncBatchNormScope::SyncBatchNormScope(Communicator& comm) {
  Communicator* none = nullptr;
  if (!g_comm.compare_exchange_strong(none, &comm)) {
    throw InternalError("synchronised BatchNorm: a scope is already active");
  }
  registration_ = std::make_unique<Registration>();
  registration_->cpu.impl("batch_norm", TORCH_FN(sync_batch_norm));
  registration_->cuda.impl("batch_norm", TORCH_FN(sync_batch_norm));
}

SyncBatchNormScope::~SyncBatchNormScope() {
  // Deregisters the kernels before the communicator goes.
  registration_.reset();
  g_comm.store(nullptr);
}

}  // namespace adascale::training

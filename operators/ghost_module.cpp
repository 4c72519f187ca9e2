#include "operators/ghost_module.h"

#include "core/error.h"

namespace adascale::operators {

GhostModuleImpl::GhostModuleImpl(const GhostModuleOptions& options_)
    : options(options_) {
  reset();
}

void GhostModuleImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.out_channels() <= 0 || o.cheap_kernel() <= 0 ||
      o.cheap_kernel() % 2 == 0) {
    throw ConfigError(
        "GhostModule: channels must be > 0 and cheap_kernel odd, got " +
        std::to_string(o.in_channels()) + "→" +
        std::to_string(o.out_channels()) + ", cheap_kernel " +
        std::to_string(o.cheap_kernel()));
  }
  const int64_t intrinsic = (o.out_channels() + 1) / 2;
  primary = register_module(
      "primary",
      ConvBnAct(ConvBnActOptions(o.in_channels(), intrinsic, 1).act(o.act())));
  cheap = register_module(
      "cheap",
      ConvBnAct(ConvBnActOptions(intrinsic, intrinsic, o.cheap_kernel())
                    .groups(intrinsic)
                    .act(o.act())));
}

torch::Tensor GhostModuleImpl::forward(torch::Tensor x) {
  auto intrinsic = primary(x);
  auto out = torch::cat({intrinsic, cheap(intrinsic)}, 1);
  // An odd `out` makes one ghost map too many; GhostNet slices it off.
  if (out.size(1) == options.out_channels()) return out;
  return out.narrow(1, 0, options.out_channels());
}

void GhostModuleImpl::pretty_print(std::ostream& stream) const {
  stream << "GhostModule(" << options.in_channels() << "→"
         << options.out_channels() << ")";
}

}  // namespace adascale::operators

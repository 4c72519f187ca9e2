#include "search/candidate_costs.h"

#include "search/intrinsic_profiler.h"

namespace adascale::search {

std::vector<std::vector<int64_t>> candidate_macs(operators::ElasticNet& net) {
  const core::ModelSpec& spec = net->spec();
  torch::Tensor probe;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    probe = net->forward_stem(
        torch::zeros({1, spec.in_channels, spec.resolution, spec.resolution}));
  }
  std::vector<std::vector<int64_t>> costs(size_t(net->num_stages()));
  for (int s = 0; s < net->num_stages(); ++s) {
    const std::vector<int64_t> in = probe.sizes().vec();
    {
      torch::NoGradGuard no_grad;
      probe = net->forward_stage(probe, s, 0);
    }
    const int64_t head =
        profile(
            *net->exits[size_t(s)],
            [&](torch::Tensor x) { return net->forward_exit(x, s); },
            probe.sizes().vec())
            .macs;
    for (size_t c = 0; c < spec.stages[size_t(s)].candidates.size(); ++c) {
      auto p = profile(
          *net->candidates[size_t(s)][c],
          [&](torch::Tensor x) { return net->forward_stage(x, s, int(c)); },
          in);
      costs[size_t(s)].push_back(p.macs + head);
    }
  }
  return costs;
}

}  // namespace adascale::search

#include "search/variant_profiles.h"

#include <algorithm>

namespace adascale::search {

void append_profile(ModelProfile& whole, const ModelProfile& part) {
  if (whole.layers.empty() && whole.input_shape.empty())
    whole.input_shape = part.input_shape;
  whole.layers.insert(whole.layers.end(), part.layers.begin(),
                      part.layers.end());
  whole.output_shape = part.output_shape;
  whole.params += part.params;
  whole.buffer_elements += part.buffer_elements;
  whole.macs += part.macs;
  whole.flops += part.flops;
  whole.storage_fp32_bytes += part.storage_fp32_bytes;
  whole.storage_int8_bytes += part.storage_int8_bytes;
  whole.activation_bytes += part.activation_bytes;
  whole.peak_activation_bytes =
      std::max(whole.peak_activation_bytes, part.peak_activation_bytes);
  whole.memory_access_bytes += part.memory_access_bytes;
  std::vector<std::string> ops;
  std::set_union(whole.unmodelled_ops.begin(), whole.unmodelled_ops.end(),
                 part.unmodelled_ops.begin(), part.unmodelled_ops.end(),
                 std::back_inserter(ops));
  whole.unmodelled_ops = std::move(ops);
}

std::vector<ModelProfile> profile_variants(
    operators::ElasticNet& net, const std::vector<core::Variant>& variants,
    int64_t batch) {
  const core::ModelSpec& spec = net->spec();
  const int stages = net->num_stages();
  // Every candidate of a stage maps the same input shape to the same
  // output shape, so one probe pass gives each stage's input shape.
  std::vector<std::vector<int64_t>> stage_input(size_t(stages) + 1);
  const std::vector<int64_t> image = {batch, spec.in_channels, spec.resolution,
                                      spec.resolution};
  {
    torch::NoGradGuard no_grad;
    bool training = net->is_training();
    net->eval();
    torch::Tensor x = net->forward_stem(torch::zeros(image));
    for (int s = 0; s < stages; ++s) {
      stage_input[size_t(s)] = x.sizes().vec();
      x = net->forward_stage(x, s, 0);
    }
    stage_input[size_t(stages)] = x.sizes().vec();
    net->train(training);
  }
  // Profiled against the whole net, so layers get the names a whole
  // variant's profile gives them.
  ModelProfile stem = profile(
      *net, [&](torch::Tensor x) { return net->forward_stem(x); }, image);
  std::vector<std::vector<ModelProfile>> blocks(static_cast<size_t>(stages));
  std::vector<ModelProfile> heads;
  for (int s = 0; s < stages; ++s) {
    const auto& in = stage_input[size_t(s)];
    for (size_t c = 0; c < net->candidates[size_t(s)].size(); ++c) {
      blocks[size_t(s)].push_back(profile(
          *net,
          [&](torch::Tensor x) { return net->forward_stage(x, s, int(c)); },
          in));
    }
    heads.push_back(profile(
        *net, [&](torch::Tensor x) { return net->forward_exit(x, s); },
        stage_input[size_t(s) + 1]));
  }
  std::vector<ModelProfile> out;
  out.reserve(variants.size());
  for (const auto& v : variants) {
    net->variants().check(v);
    ModelProfile p;
    append_profile(p, stem);
    for (int s = 0; s <= v.exit; ++s)
      append_profile(p, blocks[size_t(s)][size_t(v.choices[size_t(s)])]);
    append_profile(p, heads[size_t(v.exit)]);
    p.input_shape = image;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace adascale::search

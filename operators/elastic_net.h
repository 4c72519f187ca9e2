#pragma once
/// The multi-branch, multi-exit elastic net (paper §III-A2, DESIGN §3.2):
/// stem → stage_1 → … → stage_N, every stage holding all its candidate
/// operators (each with its own weights and BatchNorms) and followed by an
/// exit head. The graph is built once; a variant is an immutable value
/// passed to forward(), never state stored in the modules, so two threads
/// can run two variants of one graph at once.

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "core/model_spec.h"
#include "core/variant.h"
#include "operators/exit_head.h"

namespace adascale::operators {

class ElasticNetImpl : public torch::nn::Cloneable<ElasticNetImpl> {
 public:
  /// `spec` must be an elastic spec that went through
  /// core::finalize_model_spec() (load_model_spec does that).
  explicit ElasticNetImpl(core::ModelSpec spec);
  void reset() override;

  /// Logits of one variant: stem, its choice at each stage, its exit.
  torch::Tensor forward(torch::Tensor x, const core::Variant& variant);
  /// Logits of every exit along one full path (`choices` has one entry per
  /// stage): the trunk is run once and each exit reads its stage's output.
  std::vector<torch::Tensor> forward_exits(torch::Tensor x,
                                           const std::vector<int>& choices);
  /// Features entering stage `stages` after the stem and the chosen
  /// candidates of stages 0..stages-1 (`choices` may be longer).
  torch::Tensor forward_prefix(torch::Tensor x, const std::vector<int>& choices,
                               int stages);
  /// Logits of exit `stage` for several candidates of that stage run on one
  /// shared prefix output (multi-stage training trains them in one pass).
  std::vector<torch::Tensor> forward_candidates(
      const torch::Tensor& prefix, int stage,
      const std::vector<int>& candidates);

  /// One candidate of one stage (features in, features out).
  torch::Tensor forward_stage(torch::Tensor x, int stage, int candidate);
  /// Exit head `stage` on that stage's features.
  torch::Tensor forward_exit(const torch::Tensor& features, int stage);
  /// The stem alone.
  torch::Tensor forward_stem(torch::Tensor x);

  /// Parameters a variant uses: stem, its candidates, its exit head.
  std::vector<torch::Tensor> variant_parameters(const core::Variant& v) const;
  /// A module holding only what variant `v` runs (stem, its candidate at
  /// each stage, its exit head), shared with this net under the names
  /// stem, stage<k>_<candidate> and exit<k>: saved or traced, it carries
  /// this variant's weights and no other candidate's.
  std::shared_ptr<torch::nn::Module> variant_members(const core::Variant& v);

  const core::ModelSpec& spec() const { return spec_; }
  const core::VariantSpace& variants() const { return space_; }
  int num_stages() const { return int(spec_.stages.size()); }

  torch::nn::Sequential stem{nullptr};
  /// candidates[s][c]: candidate c of stage s, `depth` blocks in sequence.
  std::vector<std::vector<torch::nn::Sequential>> candidates;
  std::vector<ExitHead> exits;

 private:
  core::ModelSpec spec_;
  core::VariantSpace space_;
};
TORCH_MODULE(ElasticNet);

}  // namespace adascale::operators

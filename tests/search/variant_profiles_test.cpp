#include "search/variant_profiles.h"

#include <gtest/gtest.h>

#include "core/model_spec.h"
#include "tests/fixtures/tiny_elastic_spec.h"

namespace adascale::search {
namespace {

core::ModelSpec tiny_spec() {
  return testing::tiny_elastic_spec(5);
}

// Composing the parts must give what tracing each variant whole gives.
TEST(VariantProfiles, ComposedProfilesEqualWholeVariantProfiles) {
  torch::manual_seed(0);
  operators::ElasticNet net(tiny_spec());
  auto variants = net->variants().all();
  for (int64_t batch : {1, 3}) {
    auto composed = profile_variants(net, variants, batch);
    ASSERT_EQ(composed.size(), variants.size());
    for (size_t i = 0; i < variants.size(); ++i) {
      const auto& v = variants[i];
      auto whole = profile(
          *net, [&](torch::Tensor x) { return net->forward(x, v); },
          std::vector<int64_t>{batch, 3, 16, 16});
      const auto& c = composed[i];
      SCOPED_TRACE(net->variants().to_string(v));
      EXPECT_EQ(c.macs, whole.macs);
      EXPECT_EQ(c.flops, whole.flops);
      EXPECT_EQ(c.params, whole.params);
      EXPECT_EQ(c.storage_fp32_bytes, whole.storage_fp32_bytes);
      EXPECT_EQ(c.memory_access_bytes, whole.memory_access_bytes);
      EXPECT_EQ(c.activation_bytes, whole.activation_bytes);
      EXPECT_EQ(c.peak_activation_bytes, whole.peak_activation_bytes);
      EXPECT_EQ(c.output_shape, whole.output_shape);
      ASSERT_EQ(c.layers.size(), whole.layers.size());
      for (size_t l = 0; l < c.layers.size(); ++l) {
        EXPECT_EQ(c.layers[l].name, whole.layers[l].name);
        EXPECT_EQ(c.layers[l].memory_access_bytes,
                  whole.layers[l].memory_access_bytes);
      }
    }
  }
}

}  // namespace
}  // namespace adascale::search

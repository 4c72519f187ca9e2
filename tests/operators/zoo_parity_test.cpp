// Forward parity of the zoo with torchvision, on fixtures written by
// tests/operators/zoo_parity.py. Skipped unless ADASCALE_ZOO_PARITY_DIR
// names their folder (it needs Python with torchvision, and the parameter
// count tests in zoo_test.cpp already run everywhere).

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/model_spec.h"
#include "operators/zoo/zoo_factory.h"

namespace adascale::operators::zoo {
namespace {

TEST(ZooParity, TrainModeLogitsEqualTorchvisionWithTheSameWeights) {
  const char* dir = std::getenv("ADASCALE_ZOO_PARITY_DIR");
  if (!dir) GTEST_SKIP() << "set ADASCALE_ZOO_PARITY_DIR (zoo_parity.py)";
  torch::NoGradGuard no_grad;
  for (const auto& arch : zoo_architectures()) {
    SCOPED_TRACE(arch);
    auto path = std::filesystem::path(dir) / (arch + ".pt");
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << path;
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    auto fixture = torch::pickle_load(bytes).toGenericDict();
    auto names = fixture.at("names").toList();
    auto params = fixture.at("params").toList();

    core::ModelSpec spec;
    spec.architecture = arch;
    spec.dropout = 0;
    auto model = make_zoo_model(spec);
    std::vector<torch::Tensor> ours;
    for (const auto& p : model.ptr()->parameters()) {
      if (p.defined()) ours.push_back(p);
    }
    ASSERT_EQ(ours.size(), params.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      auto theirs = params.get(i).toTensor();
      ASSERT_EQ(ours[i].sizes(), theirs.sizes())
          << "parameter " << i << ": " << names.get(i).toStringRef();
      ours[i].copy_(theirs);
    }
    model.ptr()->train();
    auto y = model.forward(fixture.at("x").toTensor());
    auto expected = fixture.at("y").toTensor();
    EXPECT_TRUE(torch::allclose(y, expected, 1e-4, 1e-5))
        << "max |difference| " << (y - expected).abs().max().item<double>();
  }
}

}  // namespace
}  // namespace adascale::operators::zoo

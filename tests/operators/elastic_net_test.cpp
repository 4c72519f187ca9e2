#include "operators/elastic_net.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

core::ModelSpec tiny_spec() {
  core::ModelSpec spec;
  spec.name = "tiny";
  spec.classes = 5;
  spec.stem.channels = 8;
  std::vector<int> widths = {8, 16, 24};
  for (int w : widths) {
    core::StageSpec stage;
    stage.out_channels = w;
    stage.stride = 2;
    stage.depth = 1;
    core::CandidateSpec a;
    a.op.type = "basic";
    core::CandidateSpec b = a;
    b.name = "wide";
    b.op.width = 2.0;
    b.depth = 2;
    stage.candidates = {a, b};
    spec.stages.push_back(stage);
  }
  core::finalize_model_spec(spec, "test");
  return spec;
}

class ElasticNetTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

TEST_F(ElasticNetTest, EveryVariantGivesLogitsOfItsExit) {
  ElasticNet net(tiny_spec());
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 15, 17});
  EXPECT_EQ(net->variants().size(), 2u + 4 + 8);
  for (const auto& v : net->variants().all()) {
    auto y = net->forward(x, v);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 5}))
        << net->variants().to_string(v);
  }
}

TEST_F(ElasticNetTest, ExitsPrefixAndCandidatesAgreeWithForward) {
  ElasticNet net(tiny_spec());
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({3, 3, 16, 16});
  std::vector<int> path = {1, 0, 1};
  auto exits = net->forward_exits(x, path);
  ASSERT_EQ(exits.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    core::Variant v{e, std::vector<int>(path.begin(), path.begin() + e + 1)};
    EXPECT_TRUE(torch::equal(exits[size_t(e)], net->forward(x, v)));
  }
  auto prefix = net->forward_prefix(x, path, 1);
  auto both = net->forward_candidates(prefix, 1, {0, 1});
  EXPECT_TRUE(torch::equal(both[0], net->forward(x, core::Variant{1, {1, 0}})));
  EXPECT_TRUE(torch::equal(both[1], net->forward(x, core::Variant{1, {1, 1}})));
}

TEST_F(ElasticNetTest, VariantParametersAreThePathsOnly) {
  ElasticNet net(tiny_spec());
  auto count = [](const std::vector<torch::Tensor>& ps) {
    int64_t n = 0;
    for (const auto& p : ps) n += p.numel();
    return n;
  };
  int64_t all = count(net->parameters());
  int64_t small = count(net->variant_parameters(core::Variant{0, {0}}));
  int64_t wide = count(net->variant_parameters(core::Variant{0, {1}}));
  int64_t deep = count(net->variant_parameters(core::Variant{2, {1, 1, 1}}));
  EXPECT_LT(small, wide);
  EXPECT_LT(wide, deep);
  EXPECT_LT(deep, all);
  // Gradients of one variant touch exactly its parameters.
  core::Variant v{1, {0, 1}};
  net->forward(torch::randn({2, 3, 8, 8}), v).sum().backward();
  int64_t with_grad = 0;
  for (const auto& p : net->parameters()) {
    if (p.grad().defined()) with_grad += p.numel();
  }
  EXPECT_EQ(with_grad, count(net->variant_parameters(v)));
}

TEST_F(ElasticNetTest, VariantMembersHoldThePathsBlocksOnlySharedWithTheNet) {
  ElasticNet net(tiny_spec());
  const core::Variant v{1, {0, 1}};
  auto used = net->variant_members(v);
  std::vector<std::string> names;
  for (const auto& child : used->named_children()) names.push_back(child.key());
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "stage1_basic",
                                             "stage2_wide", "exit2"}));
  // The same tensors as the net's, and exactly the variant's parameters.
  std::set<const void*> members;
  for (const auto& p : used->parameters()) members.insert(p.data_ptr());
  std::set<const void*> path;
  for (const auto& p : net->variant_parameters(v)) path.insert(p.data_ptr());
  EXPECT_EQ(members, path);
  EXPECT_THROW(net->variant_members(core::Variant{1, {0}}), UsageError);
}

TEST_F(ElasticNetTest, CloneCopiesWeightsIntoIndependentModules) {
  ElasticNet net(tiny_spec());
  net->eval();
  auto copy = std::dynamic_pointer_cast<ElasticNetImpl>(net->clone());
  ASSERT_TRUE(copy);
  copy->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 16, 16});
  core::Variant v{2, {1, 0, 1}};
  EXPECT_TRUE(torch::equal(net->forward(x, v), copy->forward(x, v)));
  for (auto& p : copy->parameters()) p.add_(1.0);
  EXPECT_FALSE(torch::equal(net->forward(x, v), copy->forward(x, v)));
}

TEST_F(ElasticNetTest, TwoThreadsRunTwoVariantsOfOneGraph) {
  ElasticNet net(tiny_spec());
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 16, 16});
  core::Variant a{2, {0, 0, 0}}, b{1, {1, 1}};
  auto ya = net->forward(x, a), yb = net->forward(x, b);
  bool ok_a = true, ok_b = true;
  std::thread ta([&] {
    torch::NoGradGuard g;
    for (int i = 0; i < 20; ++i) ok_a &= torch::equal(net->forward(x, a), ya);
  });
  std::thread tb([&] {
    torch::NoGradGuard g;
    for (int i = 0; i < 20; ++i) ok_b &= torch::equal(net->forward(x, b), yb);
  });
  ta.join();
  tb.join();
  EXPECT_TRUE(ok_a);
  EXPECT_TRUE(ok_b);
}

TEST_F(ElasticNetTest, RefusesVariantsOfAnotherShape) {
  ElasticNet net(tiny_spec());
  auto x = torch::randn({1, 3, 8, 8});
  EXPECT_THROW_WITH(net->forward(x, core::Variant{1, {0}}), UsageError,
                    "needs 2 choices, got 1");
  EXPECT_THROW_WITH(net->forward(x, core::Variant{0, {2}}), UsageError,
                    "out of range");
}

}  // namespace
}  // namespace adascale::operators

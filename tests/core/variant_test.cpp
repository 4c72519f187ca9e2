#include "core/variant.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

ModelSpec three_stage_spec() {
  ModelSpec spec;
  spec.name = "v";
  std::vector<std::vector<std::string>> names = {
      {"basic", "dws"}, {"basic", "ghost", "fire"}, {"basic", "dws"}};
  for (const auto& stage_names : names) {
    StageSpec stage;
    for (const auto& n : stage_names) {
      CandidateSpec c;
      c.op.type = n;
      stage.candidates.push_back(c);
    }
    spec.stages.push_back(stage);
  }
  spec.stages[1].backbone = "ghost";
  finalize_model_spec(spec, "test");
  return spec;
}

TEST(VariantSpace, CountsAndEnumeratesEveryPathInKeyOrder) {
  VariantSpace space(three_stage_spec());
  EXPECT_EQ(space.size(), 2u + 2 * 3 + 2 * 3 * 2);
  EXPECT_EQ(space.size_at_exit(1), 6u);
  auto all = space.all();
  ASSERT_EQ(all.size(), space.size());
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size(); ++i) {
    ids.insert(space.to_string(all[i]));
    if (i > 0) {
      EXPECT_LT(space.pack(all[i - 1]), space.pack(all[i]));
    }
  }
  EXPECT_EQ(ids.size(), all.size());
  EXPECT_EQ(space.to_string(all.front()), "e1:basic");
  EXPECT_EQ(space.to_string(all.back()), "e3:dws.fire.dws");
}

TEST(VariantSpace, IdsAndKeysRoundTrip) {
  VariantSpace space(three_stage_spec());
  for (const Variant& v : space.all()) {
    EXPECT_EQ(space.parse(space.to_string(v)), v);
    EXPECT_EQ(space.unpack(space.pack(v)), v);
  }
  EXPECT_EQ(space.parse("e2:dws.fire"), (Variant{1, {1, 2}}));
}

TEST(VariantSpace, TrunkFollowsTheBackbones) {
  VariantSpace space(three_stage_spec());
  EXPECT_EQ(space.to_string(space.trunk(2)), "e3:basic.ghost.basic");
  EXPECT_EQ(space.to_string(space.trunk(0)), "e1:basic");
}

TEST(VariantSpace, UpToExitIsTheTrainedPrefixOfAll) {
  VariantSpace space(three_stage_spec());
  const auto all = space.all();
  EXPECT_TRUE(space.up_to_exit(0).empty());
  for (int exits = 1; exits <= 3; ++exits) {
    const auto trained = space.up_to_exit(exits);
    size_t expected = 0;
    for (int e = 0; e < exits; ++e) expected += space.size_at_exit(e);
    ASSERT_EQ(trained.size(), expected) << exits << " exits";
    for (size_t i = 0; i < trained.size(); ++i) {
      EXPECT_EQ(trained[i], all[i]);  // same order as all(), index by index
      EXPECT_LT(trained[i].exit, exits);
    }
  }
  EXPECT_EQ(space.up_to_exit(3).size(), all.size());
  EXPECT_EQ(space.up_to_exit(99).size(), all.size());
}

TEST(VariantSpace, AlongFollowsAPathToAnExit) {
  VariantSpace space(three_stage_spec());
  const std::vector<int> path = {1, 2, 0};
  EXPECT_EQ(space.to_string(space.along(path, 0)), "e1:dws");
  EXPECT_EQ(space.to_string(space.along(path, 2)), "e3:dws.fire.basic");
  // A path of two trained stages has no third exit.
  EXPECT_THROW_WITH(space.along({1, 2}, 2), UsageError,
                    "no exit 3 along a path of 2 stages");
  EXPECT_THROW_WITH(space.along(path, -1), UsageError, "no exit 0");
  EXPECT_THROW_WITH(space.along({5, 0, 0}, 1), UsageError,
                    "variant choice 5 at stage 1");
}

TEST(VariantSpace, BadIdsSayWhatIsWrong) {
  VariantSpace space(three_stage_spec());
  EXPECT_THROW_WITH(space.parse("x"), UsageError, "expected e<exit>:");
  EXPECT_THROW_WITH(space.parse("e9:basic"), UsageError,
                    "exit must be in 1..3");
  EXPECT_THROW_WITH(space.parse("eX:basic"), UsageError, "is not a number");
  EXPECT_THROW_WITH(space.parse("e2:basic"), UsageError,
                    "exit 2 needs 2 choices, got 1");
  EXPECT_THROW_WITH(space.parse("e2:basic.dws"), UsageError,
                    "stage 2 has no candidate 'dws' (candidates: basic, "
                    "ghost, fire)");
  EXPECT_THROW_WITH(space.check(Variant{0, {5}}), UsageError, "out of range");
}

TEST(VariantSpace, ZooModelsHaveNoVariants) {
  ModelSpec spec;
  spec.architecture = "resnet18";
  EXPECT_THROW_WITH(VariantSpace{spec}, ConfigError, "has no variants");
}

}  // namespace
}  // namespace adascale::core

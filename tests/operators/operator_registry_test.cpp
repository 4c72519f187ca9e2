#include "operators/operator_registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "operators/basic_block.h"
#include "tests/operators/operator_test_util.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

using testing::spec_for;

TEST(OperatorRegistry, BuildsByNameAndListsKnownNamesForUnknownOnes) {
  auto op = make_operator(spec_for("basic", 8, 16, 2));
  auto y = op.forward(torch::randn({2, 8, 9, 9}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 16, 5, 5}));
  EXPECT_THROW_WITH(make_operator(spec_for("nope", 8, 8, 1)), ConfigError,
                    "unknown operator 'nope' (known: ");
  EXPECT_THROW_WITH(make_operator(spec_for("nope", 8, 8, 1)), ConfigError,
                    "basic");
}

TEST(OperatorRegistry, RefusesTheSameNameTwice) {
  OperatorRegistry r;
  r.add<BasicBlock>("basic", basic_block_traits());
  EXPECT_THROW_WITH(r.add<BasicBlock>("basic", basic_block_traits()),
                    InternalError, "'basic' is registered twice");
}

TEST(OperatorRegistry, BadSpecNamesTheOperatorAndTheField) {
  auto s = spec_for("basic", 8, 8, 1);
  s.kernel = 4;
  EXPECT_THROW_WITH(make_operator(s), ConfigError, "kernel must be odd, got 4");
  s = spec_for("basic", 0, 8, 1);
  EXPECT_THROW_WITH(make_operator(s), ConfigError, "operator 'basic' (0→8");
}

}  // namespace
}  // namespace adascale::operators

#include "operators/weight_loading.h"

#include <gtest/gtest.h>

#include <sstream>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::operators {
namespace {

torch::serialize::InputArchive saved(torch::nn::Module& module) {
  torch::serialize::OutputArchive out;
  module.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  std::istringstream stream(bytes.str());
  in.load_from(stream);
  return in;
}

TEST(LoadWeightsChecked, LoadsMatchingWeights) {
  torch::manual_seed(0);
  torch::nn::Linear from(3, 4), to(3, 4);
  auto archive = saved(*from);
  load_weights_checked(*to, archive);
  EXPECT_TRUE(torch::equal(from->weight, to->weight));
  EXPECT_TRUE(torch::equal(from->bias, to->bias));
}

// Module::load() alone would accept this and leave a [4x3] weight in a
// layer built for [4x4] inputs.
TEST(LoadWeightsChecked, RefusesAnotherShapeNamingTheTensor) {
  torch::nn::Linear from(3, 4), to(4, 4);
  auto archive = saved(*from);
  EXPECT_THROW_WITH(load_weights_checked(*to, archive), DataError,
                    "weight is Float [4x3], the model's is Float [4x4]");
}

TEST(LoadWeightsChecked, RefusesMissingTensors) {
  torch::nn::Linear from(torch::nn::LinearOptions(3, 4).bias(false));
  torch::nn::Linear to(3, 4);
  auto archive = saved(*from);
  EXPECT_THROW_WITH(load_weights_checked(*to, archive), DataError,
                    "weights do not fit the model");
}

}  // namespace
}  // namespace adascale::operators

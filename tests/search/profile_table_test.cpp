#include "search/profile_table.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

namespace adascale::search {
namespace {

namespace nn = torch::nn;
using Shape = std::vector<int64_t>;

nn::Sequential small_net() {
  return nn::Sequential(
      nn::Conv2d(nn::Conv2dOptions(3, 4, 3).padding(1).bias(false)),
      nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
      nn::Linear(64, 10));
}

TEST(ProfileTable, FormatsAndRoundTripsThroughJson) {
  auto net = small_net();
  auto p = profile(net, {2, 3, 8, 8});
  std::string table = format_profile(p, /*per_layer=*/true);
  EXPECT_NE(table.find("max_pool2d"), std::string::npos) << table;
  EXPECT_NE(table.find("2x4x8x8"), std::string::npos) << table;
  EXPECT_NE(table.find("(15104)"), std::string::npos) << table;
  EXPECT_NE(table.find("memory accesses"), std::string::npos) << table;
  // Header, rule and rows are one aligned block: equal widths.
  std::istringstream lines(table);
  std::string line;
  std::getline(lines, line);
  size_t width = line.size();
  int rows = 0;
  while (std::getline(lines, line) && !line.empty()) {
    EXPECT_EQ(line.size(), width) << line;
    ++rows;
  }
  EXPECT_EQ(rows, 6);  // the rule and 5 layers
  std::string totals = format_profile(p, /*per_layer=*/false);
  EXPECT_EQ(totals.find("max_pool2d"), std::string::npos) << totals;
  EXPECT_NE(totals.find("766"), std::string::npos) << totals;

  nlohmann::json j = to_json(p);
  EXPECT_EQ(j["macs"], 15104);
  EXPECT_EQ(j["layers"].size(), 5u);
  EXPECT_EQ(j["layers"][0]["name"], "0");
  EXPECT_EQ(j["layers"][0]["output_shape"].get<Shape>(), (Shape{2, 4, 8, 8}));
  auto back = nlohmann::json::parse(j.dump()).get<ModelProfile>();
  EXPECT_EQ(nlohmann::json(back), j);
  j.erase("macs");
  EXPECT_THROW(j.get<ModelProfile>(), nlohmann::json::exception);
}

TEST(ProfileTable, NamesOpsWithoutACostModel) {
  nn::Identity id;
  auto p = profile(
      *id, [](torch::Tensor x) { return torch::cumsum(x, 1); }, Shape{2, 5});
  EXPECT_NE(
      format_profile(p, false).find("no cost model (0 MACs): aten::cumsum"),
      std::string::npos);
  EXPECT_EQ(to_json(p)["unmodelled_ops"][0], "aten::cumsum");
}

}  // namespace
}  // namespace adascale::search

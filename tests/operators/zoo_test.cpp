#include "operators/zoo/zoo_factory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/model_spec.h"
#include "operators/zoo/mobilenet_v3.h"
#include "operators/zoo/resnet18.h"
#include "operators/zoo/vision_transformer.h"
#include "tests/operators/operator_test_util.h"
#include "tests/test_util.h"

namespace adascale::operators::zoo {
namespace {

using operators::testing::parameter_count;
using operators::testing::shape;

/// configs/models/<name>.yaml, found from this file's path.
std::string model_config(const std::string& name) {
  auto root =
      std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "configs" / "models" / (name + ".yaml")).string();
}

/// Parameter counts of torchvision 0.14's definitions with 10 classes and
/// the same CIFAR stem (the stem's stride and the dropped max-pool change no
/// count; SqueezeNet's and ResNet's stem kernel do). Each from
///   /usr/bin/python3 -c "import torch.nn as nn, torchvision.models as M;
///     n = lambda m: sum(p.numel() for p in m.parameters()); <line>"
const std::map<std::string, int64_t> kTorchvisionParameters = {
    // r = M.resnet18(num_classes=10); r.conv1 = nn.Conv2d(3, 64, 3, 1, 1,
    //   bias=False); r.maxpool = nn.Identity(); print(n(r))
    {"resnet18", 11173962},
    // m = M.mobilenet_v2(num_classes=10); m.features[0][0].stride = (1, 1);
    //   print(n(m))
    {"mobilenet_v2", 2236682},
    // print(n(M.mobilenet_v3_large(num_classes=10)))
    {"mobilenet_v3_large", 4214842},
    // print(n(M.mobilenet_v3_small(num_classes=10)))
    {"mobilenet_v3_small", 1528106},
    // print(n(M.shufflenet_v2_x1_0(num_classes=10)))
    {"shufflenet_v2", 1263854},
    // m = M.squeezenet1_0(num_classes=10); m.features[0] = nn.Conv2d(3, 96,
    //   3, 1, 1); print(n(m))
    {"squeezenet1_0", 729034},
    // m = M.squeezenet1_1(num_classes=10); m.features[0] = nn.Conv2d(3, 64,
    //   3, 1, 1); print(n(m))
    {"squeezenet1_1", 727626},
    // print(n(M.VisionTransformer(image_size=32, patch_size=4, num_layers=6,
    //   num_heads=8, hidden_dim=256, mlp_dim=512, num_classes=10)))
    {"vit", 3195146},
};

void expect_within_two_percent(int64_t ours, int64_t reference,
                               const std::string& what) {
  // Shows in --gtest_output=xml, so the counts can be reported.
  ::testing::Test::RecordProperty(what, std::to_string(ours));
  double diff = std::abs(double(ours - reference)) / double(reference);
  EXPECT_LE(diff, 0.02) << what << ": ours " << ours << ", torchvision "
                        << reference;
}

class ZooTest : public operators::testing::SeededTest {};

TEST_F(ZooTest, EveryArchitectureMatchesTorchvisionAndGivesLogits) {
  ASSERT_EQ(zoo_architectures().size(), kTorchvisionParameters.size());
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 32, 32});
  for (const auto& arch : zoo_architectures()) {
    SCOPED_TRACE(arch);
    auto spec = core::load_model_spec(model_config(arch));
    EXPECT_EQ(spec.architecture, arch);
    EXPECT_EQ(spec.classes, 10);
    EXPECT_EQ(spec.resolution, 32);
    auto model = make_zoo_model(spec);
    expect_within_two_percent(parameter_count(*model.ptr()),
                              kTorchvisionParameters.at(arch), arch);
    model.ptr()->eval();
    auto y = model.forward(x);
    EXPECT_EQ(shape(y), (std::vector<int64_t>{2, 10}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  }
}

TEST_F(ZooTest, HundredClasses) {
  // r = M.resnet18(num_classes=100); r.conv1 = nn.Conv2d(3, 64, 3, 1, 1,
  //   bias=False); r.maxpool = nn.Identity(); print(n(r))  → 11220132
  auto spec = core::load_model_spec(model_config("resnet18"), {"classes=100"});
  ResNet18 model(spec);
  expect_within_two_percent(parameter_count(*model), 11220132, "resnet18");
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(shape(model(torch::randn({2, 3, 32, 32}))),
            (std::vector<int64_t>{2, 100}));
}

TEST_F(ZooTest, WidthIsTorchvisionsWidthMult) {
  // print(n(M.mobilenet_v2(num_classes=10, width_mult=0.5))) → 700490;
  // print(n(M.mobilenet_v3_small(num_classes=10, width_mult=0.75)))
  //   → 892610; print(n(M.shufflenet_v2_x0_5(num_classes=10))) → 352042.
  const std::vector<std::tuple<std::string, double, int64_t>> cases = {
      {"mobilenet_v2", 0.5, 700490},
      {"mobilenet_v3_small", 0.75, 892610},
      {"shufflenet_v2", 0.5, 352042}};
  for (const auto& [arch, width, reference] : cases) {
    auto spec = core::load_model_spec(model_config(arch));
    spec.width = width;
    auto model = make_zoo_model(spec);
    expect_within_two_percent(parameter_count(*model.ptr()), reference, arch);
  }
}

TEST_F(ZooTest, MobileNetV3KeepsTorchvisionsBatchNormSettingsWhenCloned) {
  auto spec = core::load_model_spec(model_config("mobilenet_v3_small"));
  MobileNetV3 model(spec);
  auto copy = std::dynamic_pointer_cast<MobileNetV3Impl>(model->clone());
  ASSERT_TRUE(copy);
  int checked = 0;
  for (const auto& m : copy->modules(/*include_self=*/false)) {
    if (const auto* bn = m->as<torch::nn::BatchNorm2d>()) {
      EXPECT_DOUBLE_EQ(bn->options.eps(), 1e-3);
      EXPECT_DOUBLE_EQ(bn->options.momentum().value(), 0.01);
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
}

TEST_F(ZooTest, RefusesTheElasticNetUnknownNamesAndUnusedWidth) {
  core::ModelSpec spec;
  spec.name = "net";
  EXPECT_THROW_WITH(make_zoo_model(spec), ConfigError,
                    "architecture 'elastic' is the elastic net");
  spec.architecture = "alexnet";
  EXPECT_THROW_WITH(make_zoo_model(spec), ConfigError,
                    "unknown zoo architecture 'alexnet' (known: resnet18");
  spec.architecture = "squeezenet1_1";
  spec.width = 0.5;
  EXPECT_THROW_WITH(make_zoo_model(spec), ConfigError,
                    "model 'net' (squeezenet1_1): this architecture has no "
                    "width multiplier");
  spec.architecture = "shufflenet_v2";
  spec.width = 0.75;
  EXPECT_THROW_WITH(make_zoo_model(spec), ConfigError,
                    "width must be 0.5, 1.0, 1.5 or 2.0");
}

TEST_F(ZooTest, VitChecksPatchDivisibilityAndInputSize) {
  auto spec = core::load_model_spec(model_config("vit"));
  spec.vit.depth = 1;
  VisionTransformer vit(spec);
  EXPECT_EQ(vit->position_embedding.size(1), 65);
  EXPECT_THROW_WITH(vit(torch::randn({1, 3, 28, 28})), ConfigError,
                    "expected input N×C×32×32, got 1×3×28×28");
  spec.resolution = 30;
  EXPECT_THROW_WITH(VisionTransformer{spec}, ConfigError,
                    "resolution 30 must be divisible by vit.patch 4");
}

TEST_F(ZooTest, VitClassTokenReadsEveryPatch) {
  // The head starts at zero (torchvision); give it weights so the logits
  // depend on the input, then check a change in one corner patch reaches
  // them through attention.
  auto spec = core::load_model_spec(model_config("vit"));
  spec.vit.depth = 2;
  VisionTransformer vit(spec);
  vit->eval();
  torch::NoGradGuard no_grad;
  vit->head->weight.normal_();
  auto x = torch::randn({1, 3, 32, 32});
  auto y0 = vit(x);
  x.index_put_({0, 0, 31, 31}, 10.0);
  EXPECT_FALSE(torch::allclose(vit(x), y0));
}

}  // namespace
}  // namespace adascale::operators::zoo

#include "core/model_spec.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

const char* kTwoStages = R"(name: tiny
architecture: elastic
classes: 4
stem: {channels: 8}
stages:
  - out_channels: 16
    stride: 2
    depth: 2
    candidates:
      - {type: basic}
      - {type: basic, name: wide, width: 2.0}
  - out_channels: 24
    stride: 2
    backbone: basic
    exit_channels: 32
    candidates:
      - {type: basic}
)";

TEST(ModelSpec, FillsDerivedFields) {
  TempDir dir;
  ModelSpec spec = load_model_spec(dir.write("m.yaml", kTwoStages));
  ASSERT_EQ(spec.stages.size(), 2u);
  const auto& s0 = spec.stages[0];
  EXPECT_EQ(s0.backbone, "basic");  // the first candidate by default
  EXPECT_EQ(s0.exit_channels, 32);  // 2 × out_channels by default
  EXPECT_EQ(s0.candidates[1].name, "wide");
  EXPECT_EQ(s0.candidates[1].depth, 2);
  EXPECT_EQ(s0.candidates[1].op.in_channels, 8);
  EXPECT_EQ(s0.candidates[1].op.out_channels, 16);
  EXPECT_EQ(s0.candidates[1].op.stride, 2);
  EXPECT_EQ(spec.stages[1].candidates[0].op.in_channels, 16);
  EXPECT_EQ(exit_channels(spec, 1), 32);
}

TEST(ModelSpec, ResolvedYamlReadsBackToTheSameSpec) {
  TempDir dir;
  ModelSpec spec = load_model_spec(dir.write("m.yaml", kTwoStages));
  ModelSpec again =
      load_model_spec(dir.write("resolved.yaml", model_spec_yaml(spec)));
  EXPECT_EQ(model_spec_yaml(again), model_spec_yaml(spec));
}

TEST(ModelSpec, OverridesApply) {
  TempDir dir;
  ModelSpec spec = load_model_spec(dir.write("m.yaml", kTwoStages),
                                   {"classes=100", "stem.channels=16"});
  EXPECT_EQ(spec.classes, 100);
  EXPECT_EQ(spec.stages[0].candidates[0].op.in_channels, 16);
}

// A pool exit head (the paper's pool + linear branch) reads the stage's
// channels; other widths for it are refused, and a typo of the kind too.
TEST(ModelSpec, PoolExitHeadsHaveTheStageChannels) {
  TempDir dir;
  ModelSpec spec = load_model_spec(dir.write("m.yaml", kTwoStages),
                                   {"stages.0.exit_head=pool"});
  EXPECT_EQ(spec.stages[0].exit_head, "pool");
  EXPECT_EQ(spec.stages[0].exit_channels, 16);
  EXPECT_EQ(exit_channels(spec, 0), 16);
  EXPECT_EQ(spec.stages[1].exit_head, "conv");
  EXPECT_EQ(exit_channels(spec, 1), 32);
  ModelSpec again =
      load_model_spec(dir.write("resolved.yaml", model_spec_yaml(spec)));
  EXPECT_EQ(model_spec_yaml(again), model_spec_yaml(spec));
  EXPECT_THROW_WITH(load_model_spec(dir.write("p.yaml", kTwoStages),
                                    {"stages.1.exit_head=pool"}),
                    ConfigError,
                    "stages[1].exit_channels: a pool exit head has the "
                    "stage's 24 channels, got 32");
  EXPECT_THROW_WITH(load_model_spec(dir.write("q.yaml", kTwoStages),
                                    {"stages.1.exit_head=pooling"}),
                    ConfigError, "exit_head");
}

TEST(ModelSpec, ErrorsNameFileKeyAndValue) {
  TempDir dir;
  std::string dup = std::string(kTwoStages) + "      - {type: basic}\n";
  EXPECT_THROW_WITH(load_model_spec(dir.write("dup.yaml", dup)), ConfigError,
                    "stages[1].candidates[1].name: 'basic' is already a "
                    "candidate of this stage");
  std::string bad_backbone = kTwoStages;
  bad_backbone.replace(bad_backbone.find("backbone: basic"), 15,
                       "backbone: ghost");
  EXPECT_THROW_WITH(
      load_model_spec(dir.write("bb.yaml", bad_backbone)), ConfigError,
      "stages[1].backbone: 'ghost' is not a candidate of this stage");
  EXPECT_THROW_WITH(load_model_spec(dir.write("k.yaml", kTwoStages),
                                    {"stages.0.candidates.0.kernel=4"}),
                    ConfigError, "kernel: must be odd, got 4");
  EXPECT_THROW_WITH(load_model_spec(dir.write(
                        "u.yaml", std::string(kTwoStages) + "widht: 2\n")),
                    ConfigError, "u.yaml:18: widht: unknown key");
  EXPECT_THROW_WITH(load_model_spec(dir.write("z.yaml",
                                              "architecture: resnet18\n"
                                              "stages: [{candidates: []}]\n")),
                    ConfigError, "only the elastic architecture has stages");
  EXPECT_THROW_WITH(load_model_spec(dir.write("e.yaml", "name: x\n")),
                    ConfigError, "needs at least one stage");
  EXPECT_THROW_WITH(
      load_model_spec(dir.write("c.yaml", "stages: [{out_channels: 8}]\n")),
      ConfigError, "stages[0].candidates: a stage needs at least one");
  EXPECT_THROW_WITH(load_model_spec(dir.write("n.yaml", kTwoStages),
                                    {"stages.0.candidates.1.name=Wide.1"}),
                    ConfigError, "expected lower-case letters");
}

}  // namespace
}  // namespace adascale::core

#include "core/run_config.h"

#include <gtest/gtest.h>

#include "core/config/node.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

TEST(RunConfig, DefaultsWithoutFile) {
  RunConfig c = load_run_config(std::nullopt, {});
  EXPECT_EQ(c.threads, "auto");
  EXPECT_EQ(c.device, "auto");
  EXPECT_EQ(c.loader.batch_size, 128);
  EXPECT_EQ(c.dataset.format, "synthetic");
}

TEST(RunConfig, ReadsTypedValues) {
  TempDir dir;
  std::string path = dir.write("c.yaml", R"(
threads: 2
seed: 42
dataset:
  format: cifar10
  root: /data/cifar
  mean: [0.5, 0.5, 0.5]
  std: [0.25, 0.25, 0.25]
loader:
  batch_size: 64
  channels_last: true
augment:
  crop_padding: 4
  horizontal_flip: yes
)");
  RunConfig c = load_run_config(path, {});
  EXPECT_EQ(c.threads, "2");
  EXPECT_EQ(c.seed, 42);
  EXPECT_EQ(c.dataset.format, "cifar10");
  EXPECT_EQ(c.dataset.root, "/data/cifar");
  ASSERT_EQ(c.dataset.mean.size(), 3u);
  EXPECT_DOUBLE_EQ(c.dataset.std[1], 0.25);
  EXPECT_EQ(c.loader.batch_size, 64);
  EXPECT_TRUE(c.loader.channels_last);
  EXPECT_EQ(c.augment.crop_padding, 4);
  EXPECT_TRUE(c.augment.horizontal_flip);
}

TEST(RunConfig, UnknownKeyNamesFileLineAndPath) {
  TempDir dir;
  std::string path =
      dir.write("c.yaml", "loader:\n  batch_size: 8\n  batchsize: 9\n");
  EXPECT_THROW_WITH(load_run_config(path, {}), ConfigError,
                    "c.yaml:3: loader.batchsize: unknown key");
}

TEST(RunConfig, WrongTypeSaysExpectedAndFound) {
  TempDir dir;
  std::string path = dir.write("c.yaml", "loader:\n  batch_size: many\n");
  EXPECT_THROW_WITH(
      load_run_config(path, {}), ConfigError,
      "c.yaml:2: loader.batch_size: expected an integer, got 'many'");
}

TEST(RunConfig, CheckFailureShowsValue) {
  TempDir dir;
  std::string path = dir.write("c.yaml", "loader:\n  batch_size: -3\n");
  EXPECT_THROW_WITH(load_run_config(path, {}), ConfigError,
                    "loader.batch_size: must be in [1, 65536], got '-3'");
  std::string bad_format =
      dir.write("d.yaml", "dataset:\n  format: imagenet\n");
  EXPECT_THROW_WITH(load_run_config(bad_format, {}), ConfigError,
                    "d.yaml:2: dataset.format: expected one of cifar10|");
  std::string threads = dir.write("t.yaml", "threads: zero\n");
  EXPECT_THROW_WITH(load_run_config(threads, {}), ConfigError,
                    "threads: expected 'auto' or a thread count");
}

TEST(RunConfig, ListElementErrorsNameTheIndex) {
  TempDir dir;
  std::string path = dir.write(
      "c.yaml", "dataset:\n  mean: [0.5, x, 0.5]\n  std: [1, 1, 1]\n");
  EXPECT_THROW_WITH(load_run_config(path, {}), ConfigError,
                    "dataset.mean[1]: expected a number, got 'x'");
}

TEST(RunConfig, MapWhereScalarExpected) {
  TempDir dir;
  std::string path = dir.write("c.yaml", "seed:\n  a: 1\n");
  EXPECT_THROW_WITH(load_run_config(path, {}), ConfigError,
                    "seed: expected an integer, got a map");
}

TEST(RunConfig, IncludeMergesAndOverrides) {
  TempDir dir;
  dir.write("base/base.yaml",
            "seed: 1\nloader:\n  batch_size: 32\n  prefetch: 5\n");
  std::string path = dir.write(
      "run.yaml", "include: base/base.yaml\nloader:\n  batch_size: 16\n");
  RunConfig c = load_run_config(path, {});
  EXPECT_EQ(c.seed, 1);
  EXPECT_EQ(c.loader.batch_size, 16);
  EXPECT_EQ(c.loader.prefetch, 5);
}

TEST(RunConfig, NestedIncludeMergesUnderItsKey) {
  TempDir dir;
  dir.write("models/net.yaml",
            "name: net\narchitecture: resnet18\nclasses: 10\n"
            "dropout: 0.3\n");
  dir.write("train/base.yaml",
            "train:\n  epochs: 7\n  optimizer:\n"
            "    lr: 0.05\n");
  std::string path =
      dir.write("train/run.yaml",
                "include: base.yaml\nmodel:\n  include: ../models/net.yaml\n"
                "  classes: 100\ntrain:\n  mode: finetune\n");
  RunConfig c = load_run_config(path, {"model.dropout=0.1"});
  EXPECT_EQ(c.model.name, "net");
  EXPECT_EQ(c.model.architecture, "resnet18");
  EXPECT_EQ(c.model.classes, 100);  // the including map wins
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.1);
  EXPECT_EQ(c.train.epochs, 7);
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.05);
  EXPECT_EQ(c.train.mode, TrainMode::kFinetune);
  // Errors inside the nested file name it.
  dir.write("models/bad.yaml", "name: x\nlayers: 3\n");
  std::string bad =
      dir.write("train/bad.yaml", "model:\n  include: ../models/bad.yaml\n");
  EXPECT_THROW_WITH(load_run_config(bad, {}), ConfigError,
                    "bad.yaml:2: model.layers: unknown key");
}

TEST(RunConfig, IncludedFileErrorsNameTheIncludedFile) {
  TempDir dir;
  dir.write("base.yaml", "seed: 1\nbogus: 2\n");
  std::string path = dir.write("run.yaml", "include: base.yaml\n");
  EXPECT_THROW_WITH(load_run_config(path, {}), ConfigError,
                    "base.yaml:2: bogus: unknown key");
}

TEST(RunConfig, IncludeCycleIsAnError) {
  TempDir dir;
  dir.write("a.yaml", "include: b.yaml\n");
  std::string b = dir.write("b.yaml", "include: a.yaml\n");
  EXPECT_THROW_WITH(load_run_config(b, {}), ConfigError, "include cycle");
}

TEST(RunConfig, MissingFileAndSyntaxErrors) {
  TempDir dir;
  EXPECT_THROW_WITH(load_run_config(dir.file("none.yaml"), {}), ConfigError,
                    "none.yaml: cannot open config file");
  std::string bad = dir.write("bad.yaml", "loader:\n  batch_size: [1, 2\n");
  EXPECT_THROW_WITH(load_run_config(bad, {}), ConfigError, "YAML syntax error");
  std::string dup = dir.write("dup.yaml", "seed: 1\nseed: 2\n");
  EXPECT_THROW_WITH(load_run_config(dup, {}), ConfigError,
                    "dup.yaml:2: duplicate key 'seed'");
  std::string list = dir.write("list.yaml", "- 1\n- 2\n");
  EXPECT_THROW_WITH(load_run_config(list, {}), ConfigError,
                    "must be a map of keys");
}

TEST(RunConfig, SetOverridesWinAndAreChecked) {
  RunConfig c = load_run_config(
      std::nullopt, {"loader.batch_size=7", "dataset.mean=[0.1, 0.2, 0.3]",
                     "dataset.std=[0.1, 0.2, 0.3]", "threads=3"});
  EXPECT_EQ(c.loader.batch_size, 7);
  EXPECT_DOUBLE_EQ(c.dataset.mean[2], 0.3);
  EXPECT_EQ(c.threads, "3");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"loader.batchsize=7"}),
                    ConfigError,
                    "--set loader.batchsize=7: loader.batchsize: unknown key");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"loader.batch_size=x"}),
                    ConfigError, "expected an integer, got 'x'");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"seed"}), ConfigError,
                    "expected key.path=value");
}

TEST(RunConfig, SetIndexesListsWithDotsOrBrackets) {
  RunConfig c = load_run_config(
      std::nullopt, {"train.stage_epochs=[4, 3, 3]", "train.stage_epochs.0=5",
                     "train.stage_epochs[2]=7"});
  EXPECT_EQ(c.train.stage_epochs, (std::vector<int>{5, 3, 7}));
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"train.stage_epochs=[1]",
                                                   "train.stage_epochs[3]=2"}),
                    ConfigError, "index 3 is past the list (1 items)");
  EXPECT_THROW_WITH(
      load_run_config(std::nullopt,
                      {"train.stage_epochs=[1]", "train.stage_epochs[0=2"}),
      ConfigError, "unmatched or empty '[' in key path 'train.stage_epochs[0'");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"train.stage_epochs=[1]",
                                                   "train.stage_epochs[]=2"}),
                    ConfigError, "unmatched or empty '['");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"train.stage_epochs=[1]",
                                                   "train.stage_epochs[0]x=2"}),
                    ConfigError, "expected '.' after ']'");
}

TEST(RunConfig, CrossFieldValidation) {
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"dataset.format=cifar10"}),
                    ConfigError, "dataset.root: required");
  EXPECT_THROW_WITH(
      load_run_config(std::nullopt, {"dataset.mean=[0.5]", "dataset.std=[]"}),
      ConfigError, "same number of channels");
}

TEST(RunConfig, TrainingChoicesAreEnumsSpeltAsInConfigs) {
  RunConfig c = load_run_config(
      std::nullopt,
      {"train.mode=finetune", "train.trunk_rule=best_accuracy_per_mac",
       "train.optimizer.type=adamw", "train.schedule.type=onecycle"});
  EXPECT_EQ(c.train.mode, TrainMode::kFinetune);
  EXPECT_EQ(c.train.trunk_rule, TrunkRule::kBestAccuracyPerMac);
  EXPECT_EQ(c.train.optimizer.type, OptimizerType::kAdamW);
  EXPECT_EQ(c.train.schedule.type, ScheduleType::kOneCycle);
  // Written back with the same spellings, so a resolved config reads back.
  const std::string yaml = to_yaml(c);
  EXPECT_NE(yaml.find("mode: finetune"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("trunk_rule: best_accuracy_per_mac"), std::string::npos);
  EXPECT_NE(yaml.find("type: adamw"), std::string::npos);
  EXPECT_NE(yaml.find("type: onecycle"), std::string::npos);
  // A misspelt choice is the reader's error, naming the key and the
  // spellings, never a fall-through to a default branch.
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"train.mode=thaw"}),
                    ConfigError,
                    "train.mode: expected one of freeze|finetune, got 'thaw'");
  EXPECT_THROW_WITH(load_run_config(std::nullopt, {"train.trunk_rule=best"}),
                    ConfigError,
                    "train.trunk_rule: expected one of "
                    "backbone|best_accuracy|best_accuracy_per_mac, got 'best'");
  EXPECT_THROW_WITH(
      load_run_config(std::nullopt, {"train.optimizer.type=lamb"}), ConfigError,
      "train.optimizer.type: expected one of sgd|adamw, got 'lamb'");
  EXPECT_THROW_WITH(
      load_run_config(std::nullopt, {"train.schedule.type=linear"}),
      ConfigError,
      "train.schedule.type: expected one of "
      "constant|multistep|cosine|onecycle, got 'linear'");
  TempDir dir;
  std::string map = dir.write("m.yaml", "train:\n  mode: {a: 1}\n");
  EXPECT_THROW_WITH(load_run_config(map, {}), ConfigError,
                    "m.yaml:2: train.mode: expected one of freeze|finetune");
}

TEST(RunConfig, ResolvedYamlRoundTrips) {
  RunConfig c = load_run_config(
      std::nullopt, {"seed=9", "dataset.mean=[0.25, 0.5]",
                     "dataset.std=[0.125, 0.5]", "augment.cutout=8"});
  TempDir dir;
  std::string path = dir.write("resolved.yaml", to_yaml(c));
  RunConfig back = load_run_config(path, {});
  EXPECT_EQ(to_yaml(back), to_yaml(c));
  EXPECT_EQ(back.seed, 9);
  EXPECT_EQ(back.augment.cutout, 8);
  EXPECT_DOUBLE_EQ(back.dataset.mean[0], 0.25);
}

}  // namespace
}  // namespace adascale::core

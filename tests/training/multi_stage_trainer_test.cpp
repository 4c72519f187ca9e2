// Algorithm 1 end to end on generated data: exits learn, freeze leaves the
// prefix bit-identical, finetune does not, resume is exact, and bad
// checkpoints are refused without harming the good one.

#include "training/multi_stage_trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/config/node.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/run_config.h"
#include "operators/elastic_net.h"
#include "operators/zoo/zoo_factory.h"
#include "tests/test_util.h"
#include "tests/training/training_fixture.h"
#include "training/checkpoint.h"
#include "training/evaluation.h"
#include "training/trainee.h"

namespace adascale::training {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

/// Stem and the stage-1 trunk candidate: the prefix stage 2 trains on.
std::vector<torch::Tensor> prefix_state(operators::ElasticNet& net, int c) {
  auto s = state_of(*net->stem);
  auto t = state_of(*net->candidates[0][size_t(c)]);
  s.insert(s.end(), t.begin(), t.end());
  return s;
}

TEST(MultiStageTrainer, EveryExitLearnsAndMetricsAreWritten) {
  TempDir dir;
  TrainRun run(make_config(dir), dir.file("run"));
  TrainingReport r = run.train();
  ASSERT_EQ(r.stages.size(), 2u);
  EXPECT_EQ(r.stages[0].heads,
            (std::vector<std::string>{"e1:basic", "e1:dws"}));
  EXPECT_EQ(r.stages[1].heads.size(), 3u);
  EXPECT_EQ(r.exit_names,
            (std::vector<std::string>{"e1:basic", "e2:basic.basic"}));
  ASSERT_EQ(r.test.size(), 2u);
  for (const auto& a : r.test) {
    EXPECT_GT(a.top1, 0.6) << "chance is 0.25";
    EXPECT_EQ(a.samples, 80);
  }
  for (const auto& s : r.stages) {
    for (double t : s.top1) EXPECT_GT(t, 0.5);
  }
  EXPECT_FALSE(r.interrupted);
  // The final validation is the last stage's end-of-stage pass, reused: it
  // equals a fresh pass over the finished net.
  auto fresh = evaluate_exits(*run.trainee, r.trunk, 2, *run.data->validation);
  ASSERT_EQ(r.validation.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(r.validation[e].top1, fresh[e].top1);
    EXPECT_EQ(r.validation[e].loss, fresh[e].loss);
    EXPECT_EQ(r.validation[e].samples, fresh[e].samples);
  }
  EXPECT_TRUE(fs::exists(dir.file("run/checkpoints/last.pt")));
  EXPECT_TRUE(fs::exists(dir.file("run/checkpoints/stage1.pt")));
  EXPECT_TRUE(fs::exists(dir.file("run/checkpoints/stage2.pt")));
  std::string csv = core::read_file(dir.file("run/metrics.csv"));
  EXPECT_NE(csv.find("validation"), std::string::npos);
  EXPECT_NE(csv.find("e2:basic.fire"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir.file("run/metrics.h5")));
}

TEST(MultiStageTrainer, FreezeLeavesThePrefixBitIdentical) {
  TempDir dir;
  TrainRun run(make_config(dir), dir.file("run"));
  run.train();
  // The end-of-stage-1 checkpoint holds the prefix as stage 2 found it.
  auto net1 = operators::ElasticNet(run.config.model);
  CheckpointReader(dir.file("run/checkpoints/stage1.pt"),
                   run.options.fingerprint)
      .restore_model(*net1);
  EXPECT_TRUE(identical(prefix_state(net1, 0), prefix_state(run.net, 0)));
  // ... while stage 2 did train.
  EXPECT_FALSE(
      identical(state_of(*net1->exits[1]), state_of(*run.net->exits[1])));
}

TEST(MultiStageTrainer, FinetuneMovesThePrefix) {
  TempDir dir;
  TrainRun run(make_config(dir, {"train.mode=finetune"}), dir.file("run"));
  run.train();
  auto net1 = operators::ElasticNet(run.config.model);
  CheckpointReader(dir.file("run/checkpoints/stage1.pt"),
                   run.options.fingerprint)
      .restore_model(*net1);
  EXPECT_FALSE(identical(prefix_state(net1, 0), prefix_state(run.net, 0)));
  // Only the trunk's candidate trains with the prefix; dws stays put.
  EXPECT_TRUE(identical(state_of(*net1->candidates[0][1]),
                        state_of(*run.net->candidates[0][1])));
}

TEST(MultiStageTrainer, ResumeAfterInterruptIsExact) {
  TempDir dir;
  auto config = make_config(dir, {"train.mode=finetune"});
  TrainRun straight(config, dir.file("straight"));
  TrainingReport whole = straight.train();

  TrainRun first(config, dir.file("resumed"));
  // Stop mid-epoch in stage 2 (12 steps per epoch).
  TrainingReport stopped = first.train_until(/*stage=*/1, /*epoch=*/1, 5);
  EXPECT_TRUE(stopped.interrupted);
  // A fresh process: other initial weights, which the checkpoint replaces.
  TrainRun second(config, dir.file("resumed"), /*init_seed=*/99);
  TrainingReport done = second.train(/*resume=*/true);
  EXPECT_FALSE(done.interrupted);
  EXPECT_TRUE(identical(state_of(*straight.net), state_of(*second.net)));
  // Rows of the interrupted epoch are not duplicated.
  auto rows = [&](const std::string& run_dir) {
    std::string csv = core::read_file(run_dir + "/metrics.csv");
    return std::count(csv.begin(), csv.end(), '\n');
  };
  EXPECT_EQ(rows(dir.file("straight")), rows(dir.file("resumed")));
  // The resumed process reports every stage, the one it did not run too,
  // with the epochs, time and memory of both processes.
  ASSERT_EQ(stopped.stages.size(), 1u);
  ASSERT_EQ(done.stages.size(), whole.stages.size());
  for (size_t i = 0; i < whole.stages.size(); ++i) {
    EXPECT_EQ(done.stages[i].heads, whole.stages[i].heads);
    EXPECT_EQ(done.stages[i].epochs, whole.stages[i].epochs) << "stage " << i;
    EXPECT_EQ(done.stages[i].top1, whole.stages[i].top1);
    EXPECT_EQ(done.stages[i].trunk_choice, whole.stages[i].trunk_choice);
    EXPECT_GT(done.stages[i].peak_rss_bytes, 0);
  }
  EXPECT_EQ(done.stages[0].seconds, stopped.stages[0].seconds);
  EXPECT_GT(done.wall_seconds, stopped.wall_seconds);
}

// --resume without last.pt continues from the newest intact stage
// checkpoint (to the very weights of an uninterrupted run) and leaves the
// finished stages' checkpoints as they were; with none left it refuses
// rather than starting over a run that has trained.
TEST(MultiStageTrainer, ResumeWithoutLastCheckpointUsesTheNewestStage) {
  TempDir dir;
  auto config = make_config(dir);
  TrainRun straight(config, dir.file("straight"));
  straight.train();

  const std::string run_dir = dir.file("resumed");
  TrainRun first(config, run_dir);
  first.train_until(/*stage=*/1, /*epoch=*/1, /*step=*/3);
  const std::string stage1 = run_dir + "/checkpoints/stage1.pt";
  const std::string stage1_bytes = core::read_file(stage1);
  fs::remove(run_dir + "/checkpoints/last.pt");
  TrainRun second(config, run_dir, /*init_seed=*/99);
  TrainingReport done = second.train(/*resume=*/true);
  EXPECT_FALSE(done.interrupted);
  EXPECT_TRUE(identical(state_of(*straight.net), state_of(*second.net)));
  EXPECT_EQ(core::read_file(stage1), stage1_bytes);

  // With last.pt gone and the only stage checkpoint corrupt, nothing
  // intact is left: refused, and metrics.csv is kept as it was.
  const std::string again = dir.file("again");
  TrainRun third(config, again);
  third.train_until(/*stage=*/1, /*any epoch*/ -1, /*step=*/2);
  fs::remove(again + "/checkpoints/last.pt");
  core::write_file_atomic(again + "/checkpoints/stage1.pt", "not a checkpoint");
  const std::string metrics = core::read_file(again + "/metrics.csv");
  EXPECT_THROW(TrainRun(config, again).train(/*resume=*/true), DataError);
  EXPECT_EQ(core::read_file(again + "/metrics.csv"), metrics);
}

TEST(MultiStageTrainer, UnreachableTargetStopsAtTheBudget) {
  TempDir dir;
  TrainRun run(
      make_config(dir, {"train.target_accuracy=[1.0, 0.3]", "train.epochs=2"}),
      "");
  TrainingReport r = run.train();
  EXPECT_EQ(r.stages[0].epochs, 2);
  EXPECT_FALSE(r.stages[0].reached_target);
  // A reachable target stops early.
  EXPECT_EQ(r.stages[1].epochs, 1);
  EXPECT_TRUE(r.stages[1].reached_target);
}

TEST(MultiStageTrainer, TrunkRuleBestAccuracyPicksTheBestHead) {
  TempDir dir;
  TrainRun run(
      make_config(dir, {"train.trunk_rule=best_accuracy", "train.epochs=1"}),
      "");
  TrainingReport r = run.train();
  const auto& top1 = r.stages[0].top1;
  EXPECT_EQ(r.trunk[0],
            int(std::max_element(top1.begin(), top1.end()) - top1.begin()));
}

TEST(MultiStageTrainer, BadCheckpointsAreRefusedAndTheGoodOneKept) {
  TempDir dir;
  auto config = make_config(dir, {"train.epochs=1"});
  TrainRun run(config, dir.file("run"));
  run.train();
  std::string last = dir.file("run/checkpoints/last.pt");
  std::string good = core::read_file(last);

  // Foreign: another model spec.
  auto other = make_config(dir, {"train.epochs=1", "model.stem.channels=12"});
  TrainRun foreign(other, dir.file("run"));
  EXPECT_THROW_WITH(foreign.train(true), DataError,
                    "checkpoint " + last + ": written for a different model");
  EXPECT_EQ(core::read_file(last), good);

  // Corrupted: truncated bytes.
  std::string broken =
      dir.write("broken/checkpoints/last.pt", good.substr(0, good.size() / 2));
  TrainRun corrupt(config, dir.file("broken"));
  EXPECT_THROW_WITH(corrupt.train(true), DataError, broken);
  core::write_file_atomic(dir.file("junk.pt"), "not a checkpoint at all");
  EXPECT_THROW_WITH(CheckpointReader(dir.file("junk.pt"), "x"), DataError,
                    "junk.pt: not a readable checkpoint");
}

TEST(MultiStageTrainer, ZooModelTrainsAsOneStage) {
  TempDir dir;
  auto config = make_config(dir, {"train.epochs=1", "train.max_steps=3"});
  core::setup_execution("1", "cpu", 1);
  auto data = datasets::make_pipeline(config);
  core::ModelSpec spec;
  spec.name = "mobilenet_v3_small";
  spec.architecture = "mobilenet_v3_small";
  spec.classes = 4;
  spec.resolution = 8;
  auto trainee =
      make_model_trainee(operators::zoo::make_zoo_model(spec), spec.name);
  TrainerOptions options;
  options.train = config.train;
  MultiStageTrainer trainer(*trainee, *data, options);
  TrainingReport r = trainer.run(false);
  ASSERT_EQ(r.stages.size(), 1u);
  EXPECT_EQ(r.stages[0].heads, std::vector<std::string>{"mobilenet_v3_small"});
  EXPECT_EQ(r.exit_names, std::vector<std::string>{"mobilenet_v3_small"});
  EXPECT_EQ(r.test.size(), 1u);
}

}  // namespace
}  // namespace adascale::training

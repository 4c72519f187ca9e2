// Every variant scored by one depth-first walk per batch agrees with
// scoring it alone; the early-exit curve on hand-made confidences; probes.

#include "training/variant_evaluation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/training/training_fixture.h"
#include "training/evaluation.h"
#include "training/linear_probe.h"

namespace adascale::training {
namespace {

using testing::TempDir;

TEST(VariantEvaluation, TreeWalkMatchesScoringEachVariantAlone) {
  TempDir dir;
  TrainRun run(make_config(dir, {"train.epochs=1"}), "");
  run.train();
  auto& net = run.net;
  auto acc = evaluate_variants(net, *run.data->test);
  auto all = net->variants().all();
  ASSERT_EQ(acc.size(), all.size());  // 2 + 2·3 = 8
  ASSERT_EQ(acc.size(), 8u);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < all.size(); ++i) {
    AccuracyMeter alone;
    run.data->test->start_epoch(0);
    while (auto b = run.data->test->next()) {
      alone.add(net->forward(b->images, all[i]), b->labels, 0.0);
    }
    EXPECT_DOUBLE_EQ(acc[i].top1, alone.result().top1)
        << net->variants().to_string(all[i]);
    EXPECT_EQ(acc[i].samples, 80);
  }
  // The cap trims the last batch.
  auto capped = evaluate_variants(net, *run.data->test, 20);
  EXPECT_EQ(capped[0].samples, 20);
  // Exit outputs along the trunk agree with the trunk variants.
  auto outputs = collect_exit_outputs(net, {0, 0}, *run.data->test);
  ASSERT_EQ(outputs.probabilities.size(), 2u);
  double top1 = outputs.probabilities[1]
                    .argmax(1)
                    .eq(outputs.labels)
                    .to(torch::kDouble)
                    .mean()
                    .item<double>();
  auto trunk_index = net->variants().pack(net->variants().trunk(1));
  for (size_t i = 0; i < all.size(); ++i) {
    if (net->variants().pack(all[i]) == trunk_index) {
      EXPECT_DOUBLE_EQ(top1, acc[i].top1);
    }
  }
}

TEST(VariantEvaluation, EarlyExitCurveByHand) {
  ExitOutputs o;
  // Four images, two classes, two exits. Exit 1 is confident on images 0
  // and 1 (right on 0, wrong on 1); exit 2 is right on all.
  o.probabilities.push_back(torch::tensor(
      {{0.9, 0.1}, {0.95, 0.05}, {0.6, 0.4}, {0.45, 0.55}}, torch::kFloat));
  o.probabilities.push_back(torch::tensor(
      {{0.8, 0.2}, {0.3, 0.7}, {0.7, 0.3}, {0.2, 0.8}}, torch::kFloat));
  o.labels = torch::tensor({0, 1, 0, 1}, torch::kLong);
  auto curve = early_exit_curve(o, {10.0, 30.0}, {0.5, 0.85, 1.0});
  ASSERT_EQ(curve.size(), 3u);
  // 0.5: images 0,1,2,3 all ≥ 0.5 at exit 1 (0.55 for image 3): 3 right.
  EXPECT_DOUBLE_EQ(curve[0].top1, 0.75);
  EXPECT_DOUBLE_EQ(curve[0].mean_macs, 10.0);
  EXPECT_DOUBLE_EQ(curve[0].exit_share[0], 1.0);
  // 0.85: images 0,1 leave at exit 1 (one right), 2,3 at exit 2 (right).
  EXPECT_DOUBLE_EQ(curve[1].top1, 0.75);
  EXPECT_DOUBLE_EQ(curve[1].mean_macs, 20.0);
  EXPECT_DOUBLE_EQ(curve[1].exit_share[1], 0.5);
  // 1.0: nobody is that sure; all reach exit 2.
  EXPECT_DOUBLE_EQ(curve[2].top1, 1.0);
  EXPECT_DOUBLE_EQ(curve[2].mean_macs, 30.0);
}

TEST(LinearProbe, OneProbePerBlockAndDeepFeaturesSeparateClasses) {
  TempDir dir;
  TrainRun run(make_config(dir), "");
  auto report = run.train();
  ProbeOptions options;
  options.epochs = 20;
  auto probes = run_linear_probes(run.net, report.trunk, *run.data->train,
                                  *run.data->test, options);
  ASSERT_EQ(probes.size(), 3u);  // stem + one block per stage
  EXPECT_EQ(probes[0].block, "stem");
  EXPECT_EQ(probes[2].block, "stage2.block1");
  EXPECT_EQ(probes[2].channels, 24);
  EXPECT_GT(probes[2].test_top1, 0.6);  // chance is 0.25
}

}  // namespace
}  // namespace adascale::training

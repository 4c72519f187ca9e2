#include "training/progress.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/logging.h"
#include "tests/log_capture.h"
#include "tests/test_util.h"

namespace adascale::training {
namespace {

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(12), "12s");
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3599), "59m59s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(36000), "10h00m");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::nan("")), "?");
  EXPECT_EQ(format_duration(INFINITY), "?");
}

TEST(Progress, ResolveMode) {
  EXPECT_EQ(resolve_progress_mode("bar"), ProgressMode::kBar);
  EXPECT_EQ(resolve_progress_mode("lines"), ProgressMode::kLines);
  EXPECT_EQ(resolve_progress_mode("off"), ProgressMode::kOff);
  EXPECT_EQ(resolve_progress_mode("auto"), ::isatty(STDERR_FILENO)
                                               ? ProgressMode::kBar
                                               : ProgressMode::kLines);
  EXPECT_THROW_WITH(resolve_progress_mode("fancy"), ConfigError,
                    "train.progress: expected auto|bar|lines|off, got 'fancy'");
}

TEST(Progress, BarShowsEveryFieldAndThrottlesRedraws) {
  std::ostringstream out;
  double now = 100;
  Progress p(ProgressMode::kBar, "stage 1/2 epoch 1/3", 100, 10, &out,
             [&] { return now; });
  now = 110;  // 50 steps, 6400 images in 10 s
  p.update(50, 6400, 1.234, 0.456);
  const std::string first =
      "\rstage 1/2 epoch 1/3 [##########..........] 50/100 loss 1.234 acc "
      "45.6% 640 img/s ETA 10s";
  EXPECT_EQ(out.str(), first);

  now = 110.05;  // within 0.1 s of the last draw: skipped
  p.update(51, 6528, 1.2, 0.46);
  EXPECT_EQ(out.str(), first);

  now = 130;  // 75 steps in 30 s: 10 s left
  p.update(75, 9600, 0.5, 0.8);
  EXPECT_EQ(out.str().substr(first.size()),
            "\rstage 1/2 epoch 1/3 [###############.....] 75/100 loss 0.500 "
            "acc 80.0% 320 img/s ETA 10s");

  now = 130.01;  // the last step is always drawn
  p.update(100, 12800, 0.25, 0.9);
  const std::string text = out.str();
  EXPECT_NE(text.find("[####################] 100/100 loss 0.250 acc 90.0%"),
            std::string::npos)
      << text;
  EXPECT_NE(text.rfind("ETA 0s"), std::string::npos);
  p.finish();
  p.finish();
  EXPECT_EQ(out.str(), text + "\n");
}

TEST(Progress, BarPadsOverALongerPreviousLine) {
  std::ostringstream out;
  double now = 0;
  Progress p(ProgressMode::kBar, "t", 0, 10, &out, [&] { return now; });
  now = 1;
  p.update(1, 100000000, 1.0, 0.5);  // unknown total: no bar, no ETA
  const std::string first = out.str();
  EXPECT_EQ(first, "\rt 1 loss 1.000 acc 50.0% 100000000 img/s");
  now = 2;
  p.update(2, 2, 1.0, 0.5);
  std::string second = out.str().substr(first.size());
  EXPECT_EQ(second.size(), first.size());
  EXPECT_EQ(second, "\rt 2 loss 1.000 acc 50.0% 1 img/s" +
                        std::string(first.size() - 33, ' '));
}

using adascale::testing::LogCapture;

TEST(Progress, LinesModeLogsEveryLogEveryStepsAndTheLast) {
  for (int64_t total : {20, 23, 1}) {
    LogCapture capture;
    std::ostringstream bar;
    double now = 0;
    {
      Progress p(ProgressMode::kLines, "epoch 1/1", total, 5, &bar,
                 [&] { return now; });
      for (int64_t s = 1; s <= total; ++s) {
        now += 0.5;
        p.update(s, 10 * s, 1.5, 0.25);
      }
      p.finish();
    }
    auto lines = capture.lines();
    EXPECT_EQ(int64_t(lines.size()), (total + 4) / 5) << "total " << total;
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines.back(), fmt::format("epoch 1/1 {}/{} loss 1.500 acc "
                                        "25.0% 20 img/s ETA 0s",
                                        total, total));
    EXPECT_TRUE(bar.str().empty());
  }
}

TEST(Progress, LinesModeLogsAnEpochCutShortOnFinish) {
  LogCapture capture;
  double now = 0;
  Progress p(ProgressMode::kLines, "e", 20, 5, nullptr, [&] { return now; });
  for (int64_t s = 1; s <= 7; ++s) {
    now += 1;
    p.update(s, s, 1.0, 0.5);
  }
  p.finish();
  auto lines = capture.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "e 5/20 loss 1.000 acc 50.0% 1 img/s ETA 15s");
  EXPECT_EQ(lines[1], "e 7/20 loss 1.000 acc 50.0% 1 img/s ETA 13s");
}

TEST(Progress, OffShowsNothing) {
  LogCapture capture;
  std::ostringstream bar;
  {
    Progress p(ProgressMode::kOff, "e", 10, 1, &bar);
    for (int64_t s = 1; s <= 10; ++s) p.update(s, s, 1.0, 0.5);
  }
  EXPECT_TRUE(bar.str().empty());
  EXPECT_TRUE(capture.lines().empty());
}

}  // namespace
}  // namespace adascale::training

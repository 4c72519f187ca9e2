#include "apps/demo/timeline_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::demo {
namespace {

// 60 s of a run: load bursts between 15 and 30 s and 40 and 50 s.
std::vector<TimelinePoint> run(bool adaptive) {
  std::vector<TimelinePoint> points;
  for (int s = 0; s < 60; ++s) {
    bool burst = (s >= 15 && s < 30) || (s >= 40 && s < 50);
    TimelinePoint p;
    p.t_s = s;
    p.load = burst ? 0.85 + 0.05 * std::sin(s) : 0.1 + 0.03 * std::cos(s);
    p.load_forecast = burst ? 0.8 : 0.12;
    p.exit = adaptive && burst ? 2 : 4;
    double base = adaptive ? (burst ? 18 : 22) : (burst ? 70 : 25);
    p.latency_p50_ms = base + 2 * std::sin(0.7 * s);
    p.latency_p95_ms = p.latency_p50_ms * 1.3;
    p.accuracy = adaptive ? 0.9 - 0.0005 * s : 0.91;
    points.push_back(p);
  }
  return points;
}

// Pixels within `tol` of `bgr` on every channel.
int count_color(const cv::Mat& img, cv::Vec3b bgr, int tol = 12) {
  int n = 0;
  for (int y = 0; y < img.rows; ++y) {
    for (int x = 0; x < img.cols; ++x) {
      cv::Vec3b p = img.at<cv::Vec3b>(y, x);
      bool near = true;
      for (int c = 0; c < 3; ++c) near = near && std::abs(p[c] - bgr[c]) <= tol;
      n += near;
    }
  }
  return n;
}

TEST(TimelinePlot, WritesANonBlankPngOfTheRequestedSize) {
  testing::TempDir dir;
  std::string path = dir.file("timeline.png");
  plot_timeline(run(true), run(false), 30.0, "AdaScale under user activity",
                path);
  ASSERT_TRUE(std::filesystem::exists(path));
  cv::Mat img = cv::imread(path, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 1200);
  EXPECT_EQ(img.rows, 960);
  cv::Mat gray;
  cv::cvtColor(img, gray, cv::COLOR_BGR2GRAY);
  cv::Scalar mean, stddev;
  cv::meanStdDev(gray, mean, stddev);
  EXPECT_GT(stddev[0], 10.0);
  EXPECT_GT(mean[0], 150.0);  // mostly white paper
  // Both series and the budget line are drawn.
  EXPECT_GT(count_color(img, {190, 100, 20}), 500);  // adaptive
  EXPECT_GT(count_color(img, {20, 120, 235}), 500);  // static
  EXPECT_GT(count_color(img, {40, 40, 215}), 800);   // budget
}

TEST(TimelinePlot, AcceptsAnEmptyStaticRunAndGaps) {
  auto points = run(true);
  points[10].latency_p50_ms = std::nan("");
  points[11].latency_p95_ms = std::nan("");
  points[20].load_forecast = std::nan("");
  cv::Mat img =
      render_timeline(points, {}, std::nan(""), "no budget", {640, 480});
  EXPECT_EQ(img.cols, 640);
  EXPECT_EQ(img.rows, 480);
  EXPECT_EQ(count_color(img, {20, 120, 235}), 0);    // no static series
  EXPECT_EQ(count_color(img, {40, 40, 215}, 6), 0);  // no budget line
  EXPECT_GT(count_color(img, {190, 100, 20}), 200);

  cv::Mat empty = render_timeline({}, {}, 10.0, "nothing yet");
  EXPECT_EQ(empty.cols, 1200);
  EXPECT_THROW_WITH(render_timeline({}, {}, 10.0, "tiny", {100, 100}),
                    UsageError, "100x100");
}

TEST(TimelinePlot, UnwritablePathThrowsIoErrorNamingIt) {
  testing::TempDir dir;
  std::string path = dir.file("no_such_folder/timeline.png");
  EXPECT_THROW_WITH(plot_timeline(run(true), {}, 30.0, "t", path), IoError,
                    path);
  std::string odd = dir.file("timeline.unknown_format");
  EXPECT_THROW_WITH(plot_timeline(run(true), {}, 30.0, "t", odd), IoError, odd);
}

}  // namespace
}  // namespace adascale::demo

#pragma once
/// The demo's timeline figure in the style of the paper's Fig. 8: three
/// stacked panels over a shared time axis,
///
///   (a) latency per second: p50 solid, p95 dashed and lighter, the budget
///       T as a horizontal red line;
///   (b) running accuracy, with a faint vertical line wherever the adaptive
///       run changed exit;
///   (c) load index: measured solid, forecast dashed;
///
/// each with an "adaptive" series and an optional "static" one (the same
/// run with a fixed variant), axes with tick labels, panel titles and
/// legends. Drawn with OpenCV into a PNG; no plotting library needed.
///
/// Values that are not finite (a second without a finished inference, a
/// static run without a forecast) leave a gap in their line.

#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace adascale::demo {

/// One second (or any interval) of a run.
struct TimelinePoint {
  double t_s = 0;             ///< time since the start, s
  double latency_p50_ms = 0;  ///< median latency over the interval, ms
  double latency_p95_ms = 0;  ///< 95th percentile latency, ms
  double accuracy = 0;        ///< running accuracy in [0, 1]
  double load = 0;            ///< measured load index in [0, 1]
  double load_forecast = 0;   ///< forecast load index in [0, 1]
  int exit = 0;               ///< exit (variant depth) running at the end
};

/// Size of the figure, pixels.
struct TimelinePlotSize {
  int width = 1200;
  int height = 960;
};

/// Draws the figure into a BGR image. `static_run` may be empty; a budget
/// that is not a finite number > 0 is left out. Throws UsageError for a
/// size under 400 × 300.
cv::Mat render_timeline(const std::vector<TimelinePoint>& adaptive,
                        const std::vector<TimelinePoint>& static_run,
                        double budget_ms, const std::string& title,
                        TimelinePlotSize size = {});

/// render_timeline() written to `path` (PNG, or any format OpenCV knows by
/// the extension). Throws IoError naming the path when it cannot be
/// written.
void plot_timeline(const std::vector<TimelinePoint>& adaptive,
                   const std::vector<TimelinePoint>& static_run,
                   double budget_ms, const std::string& title,
                   const std::string& path, TimelinePlotSize size = {});

}  // namespace adascale::demo

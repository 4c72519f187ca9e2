#include "apps/demo/timeline_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace adascale::demo {

namespace {

// BGR.
const cv::Scalar kAdaptive(190, 100, 20);
const cv::Scalar kAdaptiveLight(235, 190, 150);
const cv::Scalar kStatic(20, 120, 235);
const cv::Scalar kStaticLight(140, 195, 250);
const cv::Scalar kBudget(40, 40, 215);
const cv::Scalar kAxis(60, 60, 60);
const cv::Scalar kGrid(232, 232, 232);
const cv::Scalar kBorder(190, 190, 190);
const cv::Scalar kText(25, 25, 25);
const cv::Scalar kSwitch(205, 205, 205);
const cv::Scalar kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTickFont = 0.42;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// An axis range extended to round ticks (steps of 1, 2 or 5 × 10^k).
struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;
  int digits = 0;  // decimals of the tick labels
};

Axis nice_axis(double lo, double hi, int target_ticks = 5) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (!(hi > lo)) hi = lo + (lo == 0 ? 1.0 : std::abs(lo) * 0.1);
  double raw = (hi - lo) / target_ticks;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  Axis a;
  a.lo = std::floor(lo / step + 1e-9) * step;
  a.hi = std::ceil(hi / step - 1e-9) * step;
  int n = int(std::lround((a.hi - a.lo) / step));
  for (int i = 0; i <= n; ++i) a.ticks.push_back(a.lo + i * step);
  a.digits = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
  return a;
}

std::string tick_label(double v, int digits) {
  if (std::abs(v) < 1e-12) v = 0;  // no "-0"
  return fmt::format("{:.{}f}", v, digits);
}

/// One panel: its plot rectangle and the axes mapping data into it.
struct Panel {
  cv::Rect rect;
  Axis x, y;

  cv::Point at(double t, double v) const {
    double fx = (t - x.lo) / (x.hi - x.lo);
    double fy = std::clamp((v - y.lo) / (y.hi - y.lo), 0.0, 1.0);
    return {rect.x + int(std::lround(fx * rect.width)),
            rect.y + rect.height - int(std::lround(fy * rect.height))};
  }
};

void text(cv::Mat& img, const std::string& s, cv::Point origin, double scale,
          int thickness = 1, const cv::Scalar& color = kText) {
  cv::putText(img, s, origin, kFont, scale, color, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& s, double scale, int thickness = 1) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &baseline);
}

/// A polyline, solid or dashed (9 px on, 6 px off, phase kept across
/// segments so short segments still show the pattern).
void polyline(cv::Mat& img, const std::vector<cv::Point>& pts,
              const cv::Scalar& color, int thickness, bool dashed) {
  if (pts.size() == 1) {
    cv::circle(img, pts[0], thickness + 1, color, cv::FILLED, cv::LINE_AA);
    return;
  }
  constexpr double kOn = 9, kPeriod = 15;
  double phase = 0;
  for (size_t i = 1; i < pts.size(); ++i) {
    cv::Point2d a = pts[i - 1], b = pts[i];
    if (!dashed) {
      cv::line(img, pts[i - 1], pts[i], color, thickness, cv::LINE_AA);
      continue;
    }
    double length = cv::norm(b - a);
    double s = 0;
    while (s < length) {
      double in_period = std::fmod(phase + s, kPeriod);
      double run = in_period < kOn ? kOn - in_period : kPeriod - in_period;
      double e = std::min(length, s + run);
      if (in_period < kOn) {
        cv::Point2d p = a + (b - a) * (s / length);
        cv::Point2d q = a + (b - a) * (e / length);
        cv::line(img, cv::Point(int(std::lround(p.x)), int(std::lround(p.y))),
                 cv::Point(int(std::lround(q.x)), int(std::lround(q.y))), color,
                 thickness, cv::LINE_AA);
      }
      s = e;
    }
    phase = std::fmod(phase + length, kPeriod);
  }
}

using Field = std::function<double(const TimelinePoint&)>;

/// One series of one panel: lines through consecutive finite values.
void series(cv::Mat& img, const Panel& panel,
            const std::vector<TimelinePoint>& points, const Field& field,
            const cv::Scalar& color, int thickness, bool dashed) {
  std::vector<cv::Point> run;
  auto flush = [&] {
    if (!run.empty()) polyline(img, run, color, thickness, dashed);
    run.clear();
  };
  for (const auto& p : points) {
    double v = field(p);
    if (!std::isfinite(v) || !std::isfinite(p.t_s)) {
      flush();
      continue;
    }
    run.push_back(panel.at(p.t_s, v));
  }
  flush();
}

struct LegendEntry {
  std::string label;
  cv::Scalar color;
  bool dashed = false;
  int thickness = 2;
};

/// A boxed legend in the panel's top-right corner.
void legend(cv::Mat& img, const Panel& panel,
            const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  constexpr double kScale = 0.45;
  constexpr int kSample = 28, kRow = 20, kPad = 8;
  int text_w = 0;
  for (const auto& e : entries) {
    text_w = std::max(text_w, text_size(e.label, kScale).width);
  }
  int w = kPad * 3 + kSample + text_w;
  int h = kPad * 2 + kRow * int(entries.size()) - 4;
  cv::Rect box(panel.rect.x + panel.rect.width - w - 6, panel.rect.y + 6, w, h);
  cv::rectangle(img, box, kWhite, cv::FILLED);
  cv::rectangle(img, box, kBorder, 1);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    int y = box.y + kPad + kRow * int(i) + 8;
    polyline(img, {{box.x + kPad, y}, {box.x + kPad + kSample, y}}, e.color,
             e.thickness, e.dashed);
    text(img, e.label, {box.x + 2 * kPad + kSample, y + 5}, kScale);
  }
}

/// Frame, grid, tick labels and title of one panel.
void frame(cv::Mat& img, const Panel& panel, const std::string& title,
           bool x_labels) {
  const cv::Rect& r = panel.rect;
  for (double t : panel.x.ticks) {
    int x = panel.at(t, panel.y.lo).x;
    cv::line(img, {x, r.y}, {x, r.y + r.height}, kGrid, 1);
    cv::line(img, {x, r.y + r.height}, {x, r.y + r.height + 5}, kAxis, 1);
    if (!x_labels) continue;
    std::string s = tick_label(t, panel.x.digits);
    cv::Size sz = text_size(s, kTickFont);
    text(img, s, {x - sz.width / 2, r.y + r.height + 9 + sz.height}, kTickFont);
  }
  for (double v : panel.y.ticks) {
    int y = panel.at(panel.x.lo, v).y;
    cv::line(img, {r.x, y}, {r.x + r.width, y}, kGrid, 1);
    cv::line(img, {r.x - 5, y}, {r.x, y}, kAxis, 1);
    std::string s = tick_label(v, panel.y.digits);
    cv::Size sz = text_size(s, kTickFont);
    text(img, s, {r.x - 9 - sz.width, y + sz.height / 2}, kTickFont);
  }
  cv::rectangle(img, r, kAxis, 1);
  text(img, title, {r.x, r.y - 9}, 0.55, 1);
}

/// Min and max of `field` over the finite values of both runs.
std::pair<double, double> extent(const std::vector<TimelinePoint>& a,
                                 const std::vector<TimelinePoint>& b,
                                 const std::vector<Field>& fields) {
  double lo = kInf, hi = -kInf;
  for (const auto* run : {&a, &b}) {
    for (const auto& p : *run) {
      for (const auto& f : fields) {
        double v = f(p);
        if (!std::isfinite(v)) continue;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
  }
  return {lo, hi};
}

}  // namespace

cv::Mat render_timeline(const std::vector<TimelinePoint>& adaptive,
                        const std::vector<TimelinePoint>& static_run,
                        double budget_ms, const std::string& title,
                        TimelinePlotSize size) {
  if (size.width < 400 || size.height < 300) {
    throw UsageError(
        fmt::format("timeline plot: size {}x{} is under the smallest, 400x300",
                    size.width, size.height));
  }
  const bool has_budget = std::isfinite(budget_ms) && budget_ms > 0;
  const bool has_static = !static_run.empty();
  cv::Mat img(size.height, size.width, CV_8UC3, kWhite);

  // Title.
  cv::Size ts = text_size(title, 0.75, 2);
  text(img, title, {(size.width - ts.width) / 2, 14 + ts.height}, 0.75, 2);

  // Layout: three panels, each a title strip and a plot rectangle.
  constexpr int kLeft = 72, kRight = 24, kTop = 52, kBottom = 58;
  constexpr int kTitleStrip = 26, kGap = 14;
  const int block = (size.height - kTop - kBottom) / 3;
  auto rect_of = [&](int i) {
    return cv::Rect(kLeft, kTop + i * block + kTitleStrip,
                    size.width - kLeft - kRight, block - kTitleStrip - kGap);
  };

  Field t_field = [](const TimelinePoint& p) { return p.t_s; };
  auto [t0, t1] = extent(adaptive, static_run, {t_field});
  Axis x =
      nice_axis(std::isfinite(t0) ? t0 : 0, std::isfinite(t1) ? t1 : 1, 10);
  Field p50 = [](const TimelinePoint& p) { return p.latency_p50_ms; };
  Field p95 = [](const TimelinePoint& p) { return p.latency_p95_ms; };
  Field acc = [](const TimelinePoint& p) { return p.accuracy; };
  Field load = [](const TimelinePoint& p) { return p.load; };
  Field forecast = [](const TimelinePoint& p) { return p.load_forecast; };

  // (a) latency.
  {
    double hi = extent(adaptive, static_run, {p50, p95}).second;
    double top = std::isfinite(hi) ? hi : 1.0;
    if (has_budget) {
      // Room above the budget line; a runaway p95 is clipped at 5 T.
      top = std::clamp(top, budget_ms * 1.15, budget_ms * 5);
    }
    Panel panel{rect_of(0), x, nice_axis(0, top * 1.05)};
    frame(img, panel, "(a) latency per second (ms)", false);
    if (has_static) {
      series(img, panel, static_run, p95, kStaticLight, 2, true);
      series(img, panel, static_run, p50, kStatic, 2, false);
    }
    series(img, panel, adaptive, p95, kAdaptiveLight, 2, true);
    series(img, panel, adaptive, p50, kAdaptive, 2, false);
    // The budget on top of the series, its label on a white patch.
    if (has_budget) {
      int y = panel.at(x.lo, budget_ms).y;
      cv::line(img, {panel.rect.x, y}, {panel.rect.x + panel.rect.width, y},
               kBudget, 2, cv::LINE_AA);
      std::string s = fmt::format("budget T = {:g} ms", budget_ms);
      cv::Size sz = text_size(s, 0.45);
      cv::Point origin(panel.rect.x + 8, y - 7);
      cv::rectangle(img,
                    cv::Rect(origin.x - 3, origin.y - sz.height - 3,
                             sz.width + 6, sz.height + 6),
                    kWhite, cv::FILLED);
      text(img, s, origin, 0.45, 1, kBudget);
    }
    std::vector<LegendEntry> entries = {{"adaptive p50", kAdaptive},
                                        {"adaptive p95", kAdaptiveLight, true}};
    if (has_static) {
      entries.push_back({"static p50", kStatic});
      entries.push_back({"static p95", kStaticLight, true});
    }
    if (has_budget) entries.push_back({"budget", kBudget});
    legend(img, panel, entries);
  }

  // (b) running accuracy, with the adaptive run's exit changes.
  {
    auto [lo, hi] = extent(adaptive, static_run, {acc});
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    double pad = std::max(0.02, (hi - lo) * 0.1);
    Panel panel{rect_of(1), x,
                nice_axis(std::max(0.0, lo - pad), std::min(1.0, hi + pad))};
    frame(img, panel, "(b) running accuracy", false);
    int last_label_x = -1000;
    for (size_t i = 1; i < adaptive.size(); ++i) {
      if (adaptive[i].exit == adaptive[i - 1].exit) continue;
      if (!std::isfinite(adaptive[i].t_s)) continue;
      int px = panel.at(adaptive[i].t_s, panel.y.lo).x;
      cv::line(img, {px, panel.rect.y + 1},
               {px, panel.rect.y + panel.rect.height - 1}, kSwitch, 1);
      if (px - last_label_x > 34) {
        text(img, fmt::format("e{}", adaptive[i].exit),
             {px + 3, panel.rect.y + panel.rect.height - 6}, 0.38, 1, kAxis);
        last_label_x = px;
      }
    }
    if (has_static) series(img, panel, static_run, acc, kStatic, 2, false);
    series(img, panel, adaptive, acc, kAdaptive, 2, false);
    std::vector<LegendEntry> entries = {{"adaptive", kAdaptive}};
    if (has_static) entries.push_back({"static", kStatic});
    entries.push_back({"exit change (eK: exit K)", kSwitch, false, 1});
    legend(img, panel, entries);
  }

  // (c) load index.
  {
    Panel panel{rect_of(2), x, nice_axis(0, 1)};
    frame(img, panel, "(c) load index", true);
    if (has_static) {
      series(img, panel, static_run, forecast, kStaticLight, 2, true);
      series(img, panel, static_run, load, kStatic, 2, false);
    }
    series(img, panel, adaptive, forecast, kAdaptiveLight, 2, true);
    series(img, panel, adaptive, load, kAdaptive, 2, false);
    std::vector<LegendEntry> entries = {
        {"adaptive measured", kAdaptive},
        {"adaptive forecast", kAdaptiveLight, true}};
    if (has_static) {
      entries.push_back({"static measured", kStatic});
      entries.push_back({"static forecast", kStaticLight, true});
    }
    legend(img, panel, entries);
    const std::string xlabel = "time (s)";
    cv::Size sz = text_size(xlabel, 0.5);
    text(img, xlabel,
         {panel.rect.x + (panel.rect.width - sz.width) / 2, size.height - 12},
         0.5);
  }
  return img;
}

void plot_timeline(const std::vector<TimelinePoint>& adaptive,
                   const std::vector<TimelinePoint>& static_run,
                   double budget_ms, const std::string& title,
                   const std::string& path, TimelinePlotSize size) {
  cv::Mat img = render_timeline(adaptive, static_run, budget_ms, title, size);
  bool written = false;
  try {
    written = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    throw IoError(
        fmt::format("cannot write the timeline plot {}: {}", path, e.err));
  }
  if (!written) {
    throw IoError(fmt::format(
        "cannot write the timeline plot {} (does its folder exist?)", path));
  }
}

}  // namespace adascale::demo

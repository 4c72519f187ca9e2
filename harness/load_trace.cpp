#include "harness/load_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/config/node.h"
#include "core/config/schema.h"
#include "core/error.h"
#include "core/random.h"

namespace adascale::harness {

namespace {

// A trace long enough to need more pieces is a typo (hold_s: 0.0001 over
// hours), not an experiment.
constexpr size_t kMaxSegments = 10'000'000;

[[noreturn]] void fail(const std::string& source, const std::string& key,
                       const std::string& msg) {
  throw ConfigError(source + ": " + key + ": " + msg);
}

// A [lo, hi] range with lo ≤ hi, both within [min, max].
void check_range(const std::string& source, const std::string& key,
                 const std::vector<double>& r, double min, double max) {
  bool ok = r.size() == 2 && r[0] >= min && r[1] <= max && r[0] <= r[1];
  if (ok) return;
  std::string shown = r.size() == 2 ? fmt::format("[{}, {}]", r[0], r[1])
                                    : fmt::format("{} values", r.size());
  fail(source, key,
       fmt::format("expected [lo, hi] with {} <= lo <= hi <= {}, got {}", min,
                   max, shown));
}

double draw(core::SplitMix64& rng, const std::vector<double>& range) {
  return range[0] + (range[1] - range[0]) * rng.uniform();
}

TraceSegment flat(double t0, double t1, LoadTarget level) {
  return {t0, t1, level, level};
}

}  // namespace

LoadTrace::LoadTrace(TraceSpec spec, std::string source)
    : spec_(std::move(spec)) {
  const std::string kind = config::spelling(spec_.kind);  // for messages
  const std::string& src = source;
  if (!(spec_.duration_s >= 0 && std::isfinite(spec_.duration_s))) {
    fail(src, "duration_s",
         fmt::format("must be a number >= 0, got {}", spec_.duration_s));
  }
  if (spec_.kind != TraceKind::kSteps && !spec_.steps.empty()) {
    fail(src, "steps", "only for kind: steps (kind is " + kind + ")");
  }
  if (spec_.kind != TraceKind::kRamp && !spec_.points.empty()) {
    fail(src, "points", "only for kind: ramp (kind is " + kind + ")");
  }
  auto add = [&](TraceSegment s) {
    if (segments_.size() >= kMaxSegments) {
      fail(src, "duration_s",
           fmt::format("more than {} pieces; lengthen the periods",
                       kMaxSegments));
    }
    segments_.push_back(s);
  };

  switch (spec_.kind) {
    case TraceKind::kSteps: {
      if (spec_.steps.empty()) fail(src, "steps", "needs at least one step");
      double t = 0;
      for (size_t i = 0; i < spec_.steps.size(); ++i) {
        const TraceStep& s = spec_.steps[i];
        std::string key = fmt::format("steps[{}]", i);
        if (!(s.duration_s > 0)) fail(src, key + ".duration_s", "must be > 0");
        if (!(s.cpu >= 0 && s.cpu <= 1))
          fail(src, key + ".cpu", "not in [0, 1]");
        if (!(s.memory_mb >= 0)) fail(src, key + ".memory_mb", "must be >= 0");
        add(flat(t, t + s.duration_s, {s.cpu, s.memory_mb}));
        t += s.duration_s;
      }
      duration_s_ = spec_.duration_s > 0 ? spec_.duration_s : t;
      break;
    }
    case TraceKind::kRamp: {
      const auto& p = spec_.points;
      if (p.empty()) fail(src, "points", "needs at least one point");
      for (size_t i = 0; i < p.size(); ++i) {
        std::string key = fmt::format("points[{}]", i);
        if (!(p[i].cpu >= 0 && p[i].cpu <= 1))
          fail(src, key + ".cpu", "not in [0, 1]");
        if (!(p[i].memory_mb >= 0))
          fail(src, key + ".memory_mb", "must be >= 0");
        if (!(p[i].t_s >= 0)) fail(src, key + ".t_s", "must be >= 0");
        if (i > 0 && !(p[i].t_s > p[i - 1].t_s)) {
          fail(src, key + ".t_s",
               fmt::format("must be > points[{}].t_s ({}), got {}", i - 1,
                           p[i - 1].t_s, p[i].t_s));
        }
      }
      // Before the first point its value holds.
      add(flat(0, p[0].t_s, {p[0].cpu, p[0].memory_mb}));
      for (size_t i = 1; i < p.size(); ++i) {
        add({p[i - 1].t_s,
             p[i].t_s,
             {p[i - 1].cpu, p[i - 1].memory_mb},
             {p[i].cpu, p[i].memory_mb}});
      }
      duration_s_ = spec_.duration_s > 0 ? spec_.duration_s : p.back().t_s;
      break;
    }
    case TraceKind::kRandom:
    case TraceKind::kBursts: {
      if (!(spec_.duration_s > 0)) {
        fail(src, "duration_s", "must be > 0 for kind: " + kind);
      }
      duration_s_ = spec_.duration_s;
      const auto seed = static_cast<uint64_t>(spec_.seed);
      if (spec_.kind == TraceKind::kRandom) {
        const RandomTraceConfig& r = spec_.random;
        if (!(r.hold_s > 0)) fail(src, "random.hold_s", "must be > 0");
        check_range(src, "random.cpu", r.cpu, 0, 1);
        check_range(src, "random.memory_mb", r.memory_mb, 0, 1e9);
        core::SplitMix64 rng(core::mix_seed({seed, 0x72616e64}));
        auto level = [&] {
          double cpu = draw(rng, r.cpu);
          return LoadTarget{cpu, draw(rng, r.memory_mb)};
        };
        LoadTarget now = level();
        for (double t = 0; t < duration_s_; t += r.hold_s) {
          LoadTarget next = level();
          add(r.smooth ? TraceSegment{t, t + r.hold_s, now, next}
                       : flat(t, t + r.hold_s, now));
          now = next;
        }
      } else {
        const BurstTraceConfig& b = spec_.bursts;
        check_range(src, "bursts.light_s", b.light_s, 1e-3, 1e9);
        check_range(src, "bursts.heavy_s", b.heavy_s, 1e-3, 1e9);
        check_range(src, "bursts.light_cpu", b.light_cpu, 0, 1);
        check_range(src, "bursts.heavy_cpu", b.heavy_cpu, 0, 1);
        if (!(b.light_memory_mb >= 0))
          fail(src, "bursts.light_memory_mb", "must be >= 0");
        if (!(b.heavy_memory_mb >= 0))
          fail(src, "bursts.heavy_memory_mb", "must be >= 0");
        core::SplitMix64 rng(core::mix_seed({seed, 0x62757273}));
        bool heavy = b.start_heavy;
        for (double t = 0; t < duration_s_; heavy = !heavy) {
          double length = draw(rng, heavy ? b.heavy_s : b.light_s);
          double cpu = draw(rng, heavy ? b.heavy_cpu : b.light_cpu);
          double mb = heavy ? b.heavy_memory_mb : b.light_memory_mb;
          add(flat(t, t + length, {cpu, mb}));
          t += length;
        }
      }
      break;
    }
  }
  if (!(duration_s_ > 0)) {
    fail(src, "duration_s", "the trace has no length (all times are 0)");
  }
  if (spec_.name.empty()) {
    spec_.name = std::filesystem::path(source).stem().string();
  }
}

namespace {

LoadTrace from_tree(const config::Node& tree, const std::string& source) {
  auto spec = config::Reader::read_struct<TraceSpec>(tree);
  // A section of another kind would silently keep its defaults: reject it
  // where the file says it (with its line).
  for (const char* section : {"steps", "points", "random", "bursts"}) {
    const config::Node* n = tree.find(section);
    if (n == nullptr) continue;
    std::string owner = std::string(section) == "points" ? "ramp" : section;
    if (owner != config::spelling(spec.kind)) {
      config::Reader::fail_at(*n, section,
                              fmt::format("only for kind: {} (kind is {})",
                                          owner, config::spelling(spec.kind)));
    }
  }
  return LoadTrace(std::move(spec), source);
}

}  // namespace

LoadTrace LoadTrace::from_yaml(const std::string& text,
                               const std::string& source) {
  return from_tree(config::parse_yaml(text, source), source);
}

LoadTrace LoadTrace::from_file(const std::string& path) {
  return from_tree(config::load_file(path), path);
}

LoadTarget LoadTrace::at(double t_s) const {
  if (std::isnan(t_s)) throw UsageError("load trace: time is NaN");
  if (t_s < 0) t_s = 0;
  if (spec_.repeat) {
    t_s = std::fmod(t_s, duration_s_);
  } else if (t_s >= duration_s_) {
    t_s = duration_s_;
  }
  // The last segment starting at or before t (segments tile [0, end)).
  auto it = std::upper_bound(
      segments_.begin(), segments_.end(), t_s,
      [](double t, const TraceSegment& s) { return t < s.t0; });
  if (it != segments_.begin()) --it;
  const TraceSegment& s = *it;
  if (!(s.t1 > s.t0)) return s.to;
  double f = std::clamp((t_s - s.t0) / (s.t1 - s.t0), 0.0, 1.0);
  return {s.from.cpu + f * (s.to.cpu - s.from.cpu),
          s.from.memory_mb + f * (s.to.memory_mb - s.from.memory_mb)};
}

}  // namespace adascale::harness

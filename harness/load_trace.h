#pragma once
/// A background-load trace (configs/traces/*.yaml): the CPU share and the
/// memory another program should take at every moment of an experiment,
/// replayed by LoadGenerator so that runs under "user activity" are
/// repeatable.
///
/// Format (every kind compiles to piecewise-linear segments; at(t) looks
/// the segment up by binary search):
///
///     name: user_activity      # optional; default: the file's stem
///     kind: bursts             # steps | ramp | random | bursts
///     duration_s: 60           # length; steps/ramp: 0 = from the list
///     repeat: true             # past the end: start over (true) or hold
///                              # the last value (false, the default)
///     seed: 7                  # random and bursts: same seed, same trace
///
///     steps:                   # kind steps: constant levels in turn
///       - {duration_s: 5, cpu: 0.0, memory_mb: 0}
///       - {duration_s: 5, cpu: 0.8, memory_mb: 256}
///
///     points:                  # kind ramp: linear between the points
///       - {t_s: 0, cpu: 0}
///       - {t_s: 30, cpu: 1, memory_mb: 0}
///
///     random:                  # kind random: a new level every hold_s
///       hold_s: 2
///       cpu: [0.0, 1.0]        # uniform range of the levels
///       memory_mb: [0, 0]
///       smooth: false          # true: ramp linearly between levels
///
///     bursts:                  # kind bursts: light and heavy periods
///       light_s: [2, 6]        # period lengths, uniform in the range
///       heavy_s: [2, 5]
///       light_cpu: [0.0, 0.15]
///       heavy_cpu: [0.7, 1.0]
///       light_memory_mb: 0
///       heavy_memory_mb: 256
///       start_heavy: false
///
/// `cpu` is a share of all the machine's cores in [0, 1]; `memory_mb` the
/// memory to hold, MiB. Only the section of the chosen kind may be present.
///
/// Experiment harness (adascale_harness), not part of the deployable
/// runtime: the runtime itself only ever measures the machine.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/config/checks.h"

namespace adascale::harness {

/// The load to create at one moment.
struct LoadTarget {
  double cpu = 0;        ///< share of all cores in [0, 1]
  double memory_mb = 0;  ///< memory to hold, MiB (≥ 0)
};

/// One level of a `steps` trace.
struct TraceStep {
  double duration_s = 1;  ///< how long the level holds, s (> 0)
  double cpu = 0;         ///< share of all cores in [0, 1]
  double memory_mb = 0;   ///< MiB, ≥ 0

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("duration_s", duration_s, check::positive<double>(), "s");
    v("cpu", cpu, check::in_range(0.0, 1.0), "share of all cores");
    v("memory_mb", memory_mb, check::at_least(0.0), "MiB");
  }
};

/// One corner of a `ramp` trace.
struct TracePoint {
  double t_s = 0;        ///< time, s (≥ 0, increasing along the list)
  double cpu = 0;        ///< share of all cores in [0, 1]
  double memory_mb = 0;  ///< MiB, ≥ 0

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("t_s", t_s, check::at_least(0.0), "s");
    v("cpu", cpu, check::in_range(0.0, 1.0), "share of all cores");
    v("memory_mb", memory_mb, check::at_least(0.0), "MiB");
  }
};

/// The `random:` section.
struct RandomTraceConfig {
  double hold_s = 2;  ///< time between levels, s
  std::vector<double> cpu = {0.0, 1.0};
  std::vector<double> memory_mb = {0.0, 0.0};
  bool smooth = false;  ///< ramp between levels instead of holding them

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("hold_s", hold_s, check::positive<double>(), "s per level");
    v("cpu", cpu, check::size_is<double>(2), "[lo, hi] share of all cores");
    v("memory_mb", memory_mb, check::size_is<double>(2), "[lo, hi] MiB");
    v("smooth", smooth, "ramp between levels");
  }
};

/// The `bursts:` section: video-like user activity.
struct BurstTraceConfig {
  std::vector<double> light_s = {2.0, 6.0};  ///< light period length range
  std::vector<double> heavy_s = {2.0, 5.0};  ///< heavy period length range
  std::vector<double> light_cpu = {0.0, 0.15};
  std::vector<double> heavy_cpu = {0.7, 1.0};
  double light_memory_mb = 0;
  double heavy_memory_mb = 0;
  bool start_heavy = false;  ///< first period heavy instead of light

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("light_s", light_s, check::size_is<double>(2), "[lo, hi] s");
    v("heavy_s", heavy_s, check::size_is<double>(2), "[lo, hi] s");
    v("light_cpu", light_cpu, check::size_is<double>(2), "[lo, hi]");
    v("heavy_cpu", heavy_cpu, check::size_is<double>(2), "[lo, hi]");
    v("light_memory_mb", light_memory_mb, check::at_least(0.0), "MiB");
    v("heavy_memory_mb", heavy_memory_mb, check::at_least(0.0), "MiB");
    v("start_heavy", start_heavy, "first period heavy");
  }
};

/// `kind:` of a trace: how its levels are given.
enum class TraceKind { kSteps, kRamp, kRandom, kBursts };
constexpr std::array<std::pair<TraceKind, const char*>, 4> spellings(
    TraceKind) {
  return {{{TraceKind::kSteps, "steps"},
           {TraceKind::kRamp, "ramp"},
           {TraceKind::kRandom, "random"},
           {TraceKind::kBursts, "bursts"}}};
}

/// A trace file as written.
struct TraceSpec {
  std::string name;
  TraceKind kind = TraceKind::kSteps;
  double duration_s = 0;
  bool repeat = false;
  int64_t seed = 0;
  std::vector<TraceStep> steps;
  std::vector<TracePoint> points;
  RandomTraceConfig random;
  BurstTraceConfig bursts;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("name", name);
    v("kind", kind, "steps | ramp | random | bursts");
    v("duration_s", duration_s, check::at_least(0.0),
      "s; steps/ramp: 0 = from the list");
    v("repeat", repeat, "start over past the end");
    v("seed", seed, "random and bursts");
    v("steps", steps);
    v("points", points);
    v("random", random);
    v("bursts", bursts);
  }
};

/// A piece of a compiled trace: linear from `from` at t0 to `to` at t1.
struct TraceSegment {
  double t0 = 0, t1 = 0;
  LoadTarget from, to;
};

/// A compiled trace: the target load at any time.
class LoadTrace {
 public:
  /// Compiles `spec`; `source` (a file name) prefixes errors. Throws
  /// ConfigError naming the source and key for a meaningless spec (an
  /// empty list, a range with lo > hi, times not increasing, a section of
  /// another kind, a random/bursts trace without a duration).
  explicit LoadTrace(TraceSpec spec, std::string source = "trace");

  /// Reads and compiles a trace file. Throws ConfigError naming the file,
  /// line and key.
  static LoadTrace from_file(const std::string& path);
  /// Reads and compiles YAML text; `source` names it in errors.
  static LoadTrace from_yaml(const std::string& text,
                             const std::string& source);

  /// The target at `t_s` seconds from the start: before 0 the first value,
  /// past the end the last one, or the trace again when `repeat`. Throws
  /// UsageError for a NaN time.
  LoadTarget at(double t_s) const;

  /// Length of one pass, s.
  double duration_s() const { return duration_s_; }
  const std::string& name() const { return spec_.name; }
  const TraceSpec& spec() const { return spec_; }
  const std::vector<TraceSegment>& segments() const { return segments_; }

 private:
  TraceSpec spec_;
  double duration_s_ = 0;
  std::vector<TraceSegment> segments_;
};

}  // namespace adascale::harness

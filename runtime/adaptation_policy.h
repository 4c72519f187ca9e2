#pragma once
/// The adaptation policy of paper §IV-C (DESIGN §3.5): at every decision it
/// takes the *forecast* load L, predicts each variant's latency under it,
/// and keeps or switches the running variant.
///
///  - Predicted latency of row i: r · m.predict_ms(idle_i, layers_i, L, c),
///    the load-corrected latency model (search/latency_model.h) times the
///    feedback ratio r (below) at clock ratio c.
///  - Feasible: predicted ≤ T·(1 − margin). The best feasible variant is
///    the most accurate one (ties: lower idle latency, then fewer layers).
///  - Downgrade at once, in the same decision, when the running variant's
///    prediction exceeds the budget T itself. Between T·(1 − margin) and T
///    the running variant stays: the margin is a dead band, so a load that
///    wobbles around one variant's limit does not toggle it.
///  - Upgrade only after a hysteresis of M decisions in a row in each of
///    which some variant more accurate than the running one was feasible.
///    The target is the least accurate of those M per-decision bests: when
///    feasibility shrinks with load (as it does for one feedback ratio),
///    that is the most accurate variant feasible through the whole streak,
///    so one lucky low-load sample cannot pull in a variant that was
///    feasible only once. A decision without a better feasible variant
///    resets the streak.
///  - Nothing feasible: the variant with the lowest predicted latency runs,
///    reported as kInfeasible.
///  - Objective "latency" (PolicyConfig::objective; the paper's search
///    reading, eq. 6 under eq. 7): cost is minimised under an accuracy
///    constraint instead. A row is admissible when its accuracy is at least
///    the highest accuracy of all rows minus accuracy_floor_drop; rows below
///    that floor are never run. The best feasible variant is then the
///    admissible feasible one with the lowest predicted latency (ties:
///    higher accuracy, then fewer layers, then row index). The same rules
///    keep the choice from thrashing: the running variant is left at once
///    when its prediction exceeds T, the margin is the same dead band, and
///    "better" for the hysteresis means faster: a switch to a faster
///    admissible variant needs M decisions in a row in each of which some
///    admissible variant predicted faster than the running one was
///    feasible; it goes to the last decision's best (reported as kUpgrade).
///    Unlike the accuracy objective there is no lucky sample to guard
///    against: the fastest admissible row is feasible whenever any
///    admissible row is. Nothing admissible feasible: the fastest admissible
///    row runs (not the fastest overall), reported as kInfeasible.
///  - Feedback: observe() compares a measured latency of the running variant
///    with the model's prediction for it at the last decision, and keeps an
///    exponential moving average of measured / predicted, clamped to
///    [feedback_min, feedback_max], that scales every prediction. So the
///    policy adapts when the load model or the forecast is off.
///
/// The query goes through a search::GuidedSearch whose energy column holds
/// the layer count: its Pareto front over (idle latency ↓, layers ↓,
/// accuracy ↑) holds every possible answer, since predictions grow with both
/// idle latency and layers. GuidedSearch scales latency by one factor, so it
/// answers with the per-layer load term as a bound on the layer count; its
/// answer is then checked with the exact prediction. When that check fails
/// (only possible when the model's per-layer load term is non-zero) the
/// policy walks its own copy of the front in accuracy order. Either way a
/// decision touches the front only, never all rows. The latency objective
/// walks the admissible part of the same front (see the .cpp for why that
/// holds all of its answers).
///
/// Pure C++ (no LibTorch). Not thread-safe: one engine thread decides.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "core/config/checks.h"
#include "search/guided_search.h"
#include "search/latency_model.h"

namespace adascale::runtime {

/// `policy:` section of a runtime config.
struct PolicyConfig {
  double budget_ms = 50;  ///< T: latency budget per inference, ms
  int hysteresis = 3;     ///< M: decisions a better variant must stay feasible
  double margin = 0.1;    ///< selection needs predicted ≤ T·(1 − margin)
  /// α of the feedback EMA: ratio ← (1 − α)·ratio + α·measured/predicted;
  /// 0 turns feedback off.
  double feedback_smoothing = 0.2;
  double feedback_min = 0.25;  ///< lower clamp of the feedback ratio
  double feedback_max = 8.0;   ///< upper clamp of the feedback ratio
  /// τ of the input-adaptive early exit: the engine stops at an earlier
  /// exit whose softmax confidence reaches it; 0 = off. The policy only
  /// carries it.
  double early_exit_threshold = 0;
  /// Measured overruns of T in a row after which the controller reacts at
  /// once, between monitor samples (AdaptationController::observe); 0 = off.
  int overrun_streak = 2;
  /// Whether such a reaction may downgrade the variant (through overrun())
  /// when no intra-op thread is left to give up; false = threads only.
  /// Off by default: measured under user_activity (README), the downgrade
  /// cut latency further but cost 5.6 accuracy points, mostly by running
  /// e1 through bursts, for about the same miss rate as threads alone.
  bool overrun_downgrade = false;
  /// What "best" means: "accuracy" = the most accurate feasible variant
  /// (paper §IV-C); "latency" = the fastest feasible variant among those
  /// within accuracy_floor_drop of the most accurate one (the search's
  /// eq. 6 under eq. 7).
  std::string objective = "accuracy";
  /// Objective "latency" only: a variant is admissible when its accuracy is
  /// ≥ (highest accuracy of all variants) − this, in [0, 1] (accuracy as a
  /// fraction, so 0.03 = 3 points).
  double accuracy_floor_drop = 0.03;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("budget_ms", budget_ms, check::positive<double>(), "T, ms");
    v("hysteresis", hysteresis, check::in_range(1, 1'000'000), "M, decisions");
    v("margin", margin, check::in_range(0.0, 0.99), "share of T kept free");
    v("feedback_smoothing", feedback_smoothing, check::in_range(0.0, 1.0),
      "EMA alpha; 0 = no feedback");
    v("feedback_min", feedback_min, check::in_range(0.01, 1.0),
      "lowest feedback ratio");
    v("feedback_max", feedback_max, check::in_range(1.0, 1000.0),
      "highest feedback ratio");
    v("early_exit_threshold", early_exit_threshold, check::in_range(0.0, 1.0),
      "tau; 0 = off");
    v("overrun_streak", overrun_streak, check::in_range(0, 1000),
      "overruns of T in a row that trigger a decision at once; 0 = off");
    v("overrun_downgrade", overrun_downgrade,
      "an overrun at one thread may downgrade the variant");
    v("objective", objective, check::one_of({"accuracy", "latency"}),
      "accuracy = most accurate feasible variant; latency = fastest feasible "
      "variant within accuracy_floor_drop of the most accurate");
    v("accuracy_floor_drop", accuracy_floor_drop, check::in_range(0.0, 1.0),
      "objective latency: admissible accuracy >= best accuracy - this");
  }
};

/// Throws UsageError naming the field (`policy.margin: ...`) when a value is
/// out of the ranges visit() states or not a finite number.
void validate_policy_config(const PolicyConfig& config);

/// One decision of the policy.
struct Decision {
  /// Why the decision came out as it did.
  enum class Reason {
    kInitial,    ///< first decision: the best feasible variant
    kKeep,       ///< the running variant stays
    kDowngrade,  ///< the running variant broke the budget: switched at once
    /// a better variant stayed feasible for M decisions (objective
    /// latency: a faster admissible one)
    kUpgrade,
    /// nothing feasible: the fastest variant runs (objective latency: the
    /// fastest admissible one)
    kInfeasible,
  };
  size_t row = 0;         ///< the row to run (index into the policy's rows)
  bool switched = false;  ///< row differs from the previous decision's
  Reason reason = Reason::kInitial;
  double predicted_ms = 0;  ///< row's predicted latency, feedback included
};

/// Readable name of a reason ("keep", "downgrade", ...).
const char* reason_name(Decision::Reason reason);

/// Chooses the variant to run from the forecast load.
class AdaptationPolicy {
 public:
  /// `rows` are the variants (idle latency in `latency_ms`), `layers[i]` the
  /// layer count of row i, `model` the latency model whose load correction
  /// applies. Throws UsageError for an invalid config, no rows, a layer
  /// count per row missing or not a finite number ≥ 0, and DataError for a
  /// malformed row (as GuidedSearch).
  AdaptationPolicy(std::vector<search::SearchRow> rows,
                   std::vector<double> layers, search::LatencyModel model,
                   PolicyConfig config = {});

  /// Decides from the forecast `load` (clamped to [0, 1]; NaN counts as 0)
  /// and `clock_ratio` = max clock / current clock (≥ 1; 1 when unknown).
  Decision decide(double load, double clock_ratio = 1.0);

  /// Feeds back one measured latency of the running variant (from the last
  /// decision). Throws UsageError before the first decision or for a
  /// measurement that is not a finite number > 0.
  void observe(double measured_ms);

  /// A confirmed overrun: the running variant measured `measured_ms` > T
  /// several times in a row (the caller decides how many). The feedback
  /// ratio jumps to at least measured / predicted instead of moving by one
  /// EMA step, so the evidence counts in full, and a decision follows at
  /// once under `load` and `clock_ratio` (a downgrade, since the running
  /// variant is now predicted over T). Later observe() calls pull the ratio
  /// back as usual. Throws as observe() does.
  Decision overrun(double measured_ms, double load, double clock_ratio = 1.0);

  /// Predicted latency of `row` under `load` and `clock_ratio`, feedback
  /// ratio included. Throws UsageError for a row out of range.
  double predict_ms(size_t row, double load, double clock_ratio = 1.0) const;
  /// Whether that prediction is within T·(1 − margin).
  bool feasible(size_t row, double load, double clock_ratio = 1.0) const;
  /// Whether `row` may run under the objective: always for "accuracy"; for
  /// "latency", whether its accuracy reaches accuracy_floor() (1e-12 of
  /// slack, so a row exactly on the floor stays admissible despite the
  /// rounding of the subtraction). Throws UsageError for a row out of range.
  bool admissible(size_t row) const;
  /// Objective "latency": the least accuracy a variant may have (highest
  /// accuracy − accuracy_floor_drop); −∞ for "accuracy".
  double accuracy_floor() const { return floor_; }

  /// The running variant; std::nullopt before the first decision.
  std::optional<size_t> current() const { return current_; }
  /// The current feedback ratio measured / predicted (1 without feedback).
  double feedback_ratio() const { return ratio_; }
  /// Decisions in the current upgrade streak (0 … M − 1).
  int upgrade_streak() const { return streak_; }
  /// Forgets the running variant, the streak and the feedback.
  void reset();

  const PolicyConfig& config() const { return config_; }
  const std::vector<search::SearchRow>& rows() const { return index_.rows(); }
  const std::vector<double>& layers() const { return layers_; }
  const search::LatencyModel& model() const { return model_; }
  /// Rows on the Pareto front the decisions look at.
  size_t front_size() const { return front_.size(); }

 private:
  /// Model prediction without the feedback ratio.
  double raw_ms(size_t row, double load, double clock_ratio) const;
  /// Most accurate feasible row under (load, clock), or nullopt.
  std::optional<size_t> best_feasible(double load, double clock_ratio) const;
  /// Row with the lowest predicted latency.
  size_t fastest(double load, double clock_ratio) const;
  /// Objective "latency": the admissible row with the lowest predicted
  /// latency (ties: accuracy, layers, index).
  size_t fastest_admissible(double load, double clock_ratio) const;
  /// decide() for objective "latency".
  Decision decide_latency(double load, double clock_ratio);
  /// The Decision for running `row`, recorded as the running variant.
  Decision finish(size_t row, Decision::Reason reason, double load,
                  double clock_ratio);
  /// Whether row a ranks above row b (accuracy, idle latency, layers, index).
  bool ranks_above(size_t a, size_t b) const;

  PolicyConfig config_;
  search::LatencyModel model_;
  std::vector<double> layers_;
  search::GuidedSearch index_;  // energy column = layer count
  std::vector<size_t> front_;   // Pareto rows, best rank first
  bool latency_objective_ = false;
  double floor_ = 0;             // accuracy_floor()
  size_t admissible_front_ = 0;  // front_[0, this) are admissible

  std::optional<size_t> current_;
  double last_raw_ms_ = 0;  // raw prediction of current_ at the last decision
  double ratio_ = 1;
  int streak_ = 0;
  size_t streak_target_ = 0;  // least accurate best seen in the streak
};

}  // namespace adascale::runtime

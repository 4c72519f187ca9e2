#pragma once
/// The load forecast the adaptation loop acts on. The AR(p) model of paper
/// §IV-A (runtime/ar_forecaster.h) does not always beat the naive forecast
/// "the load stays where it is": on the demo's own traces it lost (AR mean
/// absolute error 0.0377 against 0.0338 for the last value, adaptive phase
/// under user_activity), because a load that jumps between levels is
/// closer to a random walk than to an AR process. So the loop keeps score.
///
/// Every push scores the forecasts made `horizon` pushes earlier against
/// the value that came, for both models, walk-forward (each forecast used
/// only values before it), as forecast_error() does: only forecasts made
/// once the AR model was ready (before that it is the last value too).
/// With model "best" the forecast is whichever model has the lower
/// exponentially weighted absolute error (half-life `score_halflife`
/// forecasts), AR only once it has that many scored forecasts and only when
/// strictly better: a tie, or too short a record, goes to naive, the model with
/// nothing to fit. "ar" and "naive" fix the choice (and are still scored).
///
/// Pure logic, no clock; not thread-safe (the controller owns it).

#include <cstddef>
#include <deque>
#include <string>

#include "runtime/ar_forecaster.h"

namespace adascale::runtime {

/// The two forecasts a selector can answer with.
enum class ForecastModel {
  kAr,     ///< the AR(p) model
  kNaive,  ///< the last value
};

/// "ar" | "naive".
std::string to_string(ForecastModel model);

/// Walk-forward scores of the two forecasts, and which was used.
struct ForecastScore {
  /// Exponentially weighted mean absolute error of recent AR forecasts
  /// (what "best" compares); 0 before the first scored forecast.
  double ar_recent = 0;
  /// The same for the naive forecast.
  double naive_recent = 0;
  /// Mean absolute error of every scored AR forecast.
  double ar_mae = 0;
  /// Mean absolute error of every scored naive forecast.
  double naive_mae = 0;
  /// Mean absolute error of the forecasts the selector answered with.
  double used_mae = 0;
  /// Forecasts scored (the same points for all three errors).
  size_t scored = 0;
  /// Forecasts answered with each model (one per push).
  size_t ar_used = 0;
  size_t naive_used = 0;
};

class ForecastSelector {
 public:
  /// Validates `config` (validate_forecast_config()).
  explicit ForecastSelector(ForecastConfig config = {});

  /// Scores the forecasts that targeted this step, pushes `value` into the
  /// AR model (which refits as configured), then makes this step's
  /// forecasts and counts the model answering. Throws UsageError for a
  /// non-finite value.
  void push(double value);

  /// The forecast config.horizon steps past the newest value, from the
  /// model choice() names. Throws UsageError when nothing was pushed.
  double forecast() const;
  /// The model forecast() answers with now.
  ForecastModel choice() const;

  const ForecastScore& score() const { return score_; }
  const ArForecaster& ar() const { return ar_; }
  const ForecastConfig& config() const { return ar_.config(); }

  /// Forgets the values, the fit and the scores.
  void clear();

 private:
  /// Forecasts made at one push, for the value `horizon` pushes later.
  struct Pending {
    double ar = 0;
    double naive = 0;
    double used = 0;
    bool scored = false;  ///< made with the AR model ready
  };

  ForecastModel choose() const;

  ArForecaster ar_;
  double alpha_;  // weight of the newest error in the recent errors
  std::deque<Pending> pending_;  // oldest first; at most `horizon`
  ForecastScore score_;
  double ar_sum_ = 0, naive_sum_ = 0, used_sum_ = 0;
  ForecastModel choice_ = ForecastModel::kNaive;
};

}  // namespace adascale::runtime

#pragma once
/// The load forecaster of paper §IV-A (DESIGN §3.5): an autoregressive
/// model AR(p),
///
///     x_t = c + a_1·x_{t−1} + … + a_p·x_{t−p} + ε_t,
///
/// fitted by ordinary least squares on a sliding window of the last W
/// values and iterated h steps ahead. A window the fit cannot use (too
/// short, constant, singular normal equations) falls back to the "last
/// value" model (a_1 = 1, the rest 0, c = 0), so a forecast is never NaN.

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

#include "core/config/checks.h"

namespace adascale::runtime {

/// `forecast:` section of a runtime config.
struct ForecastConfig {
  int order = 2;    ///< p: past values per prediction
  int window = 64;  ///< W: values the fit uses (≥ 2p + 2)
  int horizon = 1;  ///< h: steps ahead forecast() looks by default
  /// Refit after every k pushes once enough values are in; 0 = only when
  /// fit() is called.
  int refit_every = 1;
  /// Clamp every forecast step to [0, 1] (the series is a load or a share).
  bool clamp_unit = false;
  /// Which forecast the adaptation loop uses (runtime/forecast_selector.h):
  /// "ar" (always the AR(p) model), "naive" (the last value) or "best"
  /// (whichever has the lower recent walk-forward error; a tie goes to
  /// naive).
  std::string model = "best";
  /// Half-life, in scored forecasts, of the exponentially weighted
  /// walk-forward errors "best" compares; "best" also waits this many
  /// scored forecasts before it trusts AR.
  int score_halflife = 20;

  template <typename V>
  void visit(V& v) {
    using namespace config;
    v("order", order, check::in_range(1, 64), "p");
    v("window", window, check::in_range(4, 1'000'000), "W, >= 2p + 2");
    v("horizon", horizon, check::in_range(1, 10'000), "h, steps ahead");
    v("refit_every", refit_every, check::at_least(0), "pushes; 0 = manual");
    v("clamp_unit", clamp_unit, "clamp forecasts to [0, 1]");
    v("model", model, check::one_of({"ar", "naive", "best"}),
      "forecast the loop uses");
    v("score_halflife", score_halflife, check::in_range(1, 1'000'000),
      "scored forecasts");
  }
};

/// Throws UsageError naming the field: order ≥ 1, window ≥ 2·order + 2
/// (at least order + 2 equations for the order + 1 unknowns), horizon ≥ 1,
/// refit_every ≥ 0, model one of ar|naive|best, score_halflife ≥ 1.
void validate_forecast_config(const ForecastConfig& config);

/// AR(p) over a sliding window. Not thread-safe.
class ArForecaster {
 public:
  /// Validates `config` (validate_forecast_config()).
  explicit ArForecaster(ForecastConfig config = {});

  /// Appends a value (dropping the oldest beyond the window) and refits
  /// when `refit_every` pushes have passed since the last fit. Throws
  /// UsageError for a non-finite value.
  void push(double value);

  /// True once the window holds 2p + 2 values, enough for a fit.
  bool ready() const;

  /// Fits the model on the current window; the last-value fallback when
  /// not ready() or the window is degenerate.
  void fit();

  /// a_1 … a_p of the last fit (a_1 weighs the newest value).
  const std::vector<double>& coefficients() const { return coefficients_; }
  /// c of the last fit.
  double intercept() const { return intercept_; }
  /// True while the model is the last-value fallback (before the first
  /// successful fit, or after a degenerate one).
  bool using_fallback() const { return fallback_; }

  /// The forecast `h` steps past the newest value: the recursion run from
  /// the newest p values, each step's output fed back as input (clamped
  /// to [0, 1] when configured). Throws UsageError when nothing was
  /// pushed or h < 1.
  double forecast(int h) const;
  /// forecast(config().horizon).
  double forecast() const { return forecast(config_.horizon); }
  /// Steps 1 … h of the forecast.
  std::vector<double> forecast_path(int h) const;

  /// Values in the window.
  size_t size() const { return values_.size(); }
  /// Forgets every value and the fit.
  void clear();

  const ForecastConfig& config() const { return config_; }

 private:
  void use_fallback();

  ForecastConfig config_;
  std::deque<double> values_;  // oldest first
  std::vector<double> coefficients_;
  double intercept_ = 0;
  bool fallback_ = true;
  int since_fit_ = 0;
  bool fitted_ = false;  // fit() ran on a ready window since clear()
};

/// Walk-forward error of h-step forecasts over a recorded series.
struct ForecastError {
  /// Mean absolute error of the AR forecasts.
  double ar_mae = 0;
  /// Mean absolute error of the naive forecast: the newest value, as if
  /// nothing changed in h steps.
  double naive_mae = 0;
  /// Forecasts scored: both errors are over the same points.
  size_t forecasts = 0;
};

/// Replays `series` through an ArForecaster with `config`: after each
/// push, once ready(), the forecast for h = config.horizon steps ahead is
/// scored against the value that came, and so is the last value. Throws
/// UsageError when the series is too short for one scored forecast
/// (2p + 2 + h values) or holds a non-finite value.
ForecastError forecast_error(const std::vector<double>& series,
                             const ForecastConfig& config);

}  // namespace adascale::runtime

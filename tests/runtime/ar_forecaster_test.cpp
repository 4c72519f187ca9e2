#include "runtime/ar_forecaster.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

// x_t = 0.6 x_{t−1} − 0.3 x_{t−2} + 0.1 + ε, ε ~ N(0, sigma²).
std::vector<double> ar2_series(size_t n, double sigma, uint64_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, sigma);
  std::vector<double> x = {0.1, 0.2};
  while (x.size() < n) {
    size_t t = x.size();
    x.push_back(0.6 * x[t - 1] - 0.3 * x[t - 2] + 0.1 + noise(rng));
  }
  return x;
}

ForecastConfig config(int order, int window, int refit_every = 1) {
  ForecastConfig c;
  c.order = order;
  c.window = window;
  c.refit_every = refit_every;
  return c;
}

TEST(ArForecaster, RecoversTheCoefficientsOfANoisyAr2) {
  auto x = ar2_series(5000, 0.05);
  ArForecaster model(config(2, 5000, /*refit_every=*/0));
  for (double v : x) model.push(v);
  EXPECT_TRUE(model.using_fallback());  // refit_every 0: not yet fitted
  model.fit();
  ASSERT_FALSE(model.using_fallback());
  ASSERT_EQ(model.coefficients().size(), 2u);
  EXPECT_NEAR(model.coefficients()[0], 0.6, 0.05);
  EXPECT_NEAR(model.coefficients()[1], -0.3, 0.05);
  EXPECT_NEAR(model.intercept(), 0.1, 0.02);
}

TEST(ArForecaster, ForecastsANoiseFreeAr2Exactly) {
  // x_t = 1.2 x_{t−1} − 0.5 x_{t−2} + 0.3: a damped oscillation.
  std::vector<double> x = {1.0, -1.0};
  while (x.size() < 30) {
    size_t t = x.size();
    x.push_back(1.2 * x[t - 1] - 0.5 * x[t - 2] + 0.3);
  }
  ArForecaster model(config(2, 20));
  for (size_t t = 0; t < 20; ++t) model.push(x[t]);
  ASSERT_FALSE(model.using_fallback());
  EXPECT_NEAR(model.coefficients()[0], 1.2, 1e-9);
  EXPECT_NEAR(model.coefficients()[1], -0.5, 1e-9);
  EXPECT_NEAR(model.intercept(), 0.3, 1e-9);
  auto path = model.forecast_path(10);
  ASSERT_EQ(path.size(), 10u);
  for (size_t k = 0; k < 10; ++k) EXPECT_NEAR(path[k], x[20 + k], 1e-9) << k;
  EXPECT_DOUBLE_EQ(model.forecast(10), path.back());
  EXPECT_DOUBLE_EQ(model.forecast(), path.front());  // default horizon 1
}

TEST(ArForecaster, SlidingWindowTracksASinusoid) {
  // x_t = 0.5 + 0.3 sin(0.3 t) is an exact AR(2) with roots on the unit
  // circle; a window of 16 sliding over 200 values keeps forecasting it.
  const double w = 0.3;
  auto x = [&](size_t t) { return 0.5 + 0.3 * std::sin(w * double(t)); };
  ArForecaster model(config(2, 16));
  for (size_t t = 0; t < 200; ++t) model.push(x(t));
  EXPECT_EQ(model.size(), 16u);
  EXPECT_NEAR(model.coefficients()[0], 2 * std::cos(w), 1e-7);
  EXPECT_NEAR(model.coefficients()[1], -1.0, 1e-7);
  for (int h = 1; h <= 5; ++h)
    EXPECT_NEAR(model.forecast(h), x(199 + size_t(h)), 1e-6) << h;
}

TEST(ArForecaster, DegenerateWindowsFallBackToTheLastValue) {
  ArForecaster constant;
  for (int i = 0; i < 100; ++i) constant.push(0.37);
  EXPECT_TRUE(constant.using_fallback());
  for (int h = 1; h <= 4; ++h) EXPECT_DOUBLE_EQ(constant.forecast(h), 0.37);
  EXPECT_DOUBLE_EQ(constant.coefficients()[0], 1.0);
  EXPECT_DOUBLE_EQ(constant.coefficients()[1], 0.0);
  EXPECT_DOUBLE_EQ(constant.intercept(), 0.0);

  // A ramp makes the lags collinear: singular normal equations.
  ArForecaster ramp(config(2, 32));
  for (int i = 0; i < 50; ++i) ramp.push(0.01 * i);
  EXPECT_TRUE(ramp.using_fallback());
  EXPECT_TRUE(std::isfinite(ramp.forecast(3)));
  EXPECT_DOUBLE_EQ(ramp.forecast(3), 0.49);

  // Before a fit is possible the forecast is the last value, and an
  // empty model has none.
  ArForecaster young;
  EXPECT_THROW_WITH(young.forecast(1), UsageError, "no values");
  young.push(0.2);
  young.push(0.4);
  EXPECT_FALSE(young.ready());
  EXPECT_DOUBLE_EQ(young.forecast(2), 0.4);

  // Variation that slides out of the window leaves a constant one.
  ArForecaster settles(config(1, 8));
  for (double v : {0.1, 0.9, 0.2, 0.8, 0.3, 0.7}) settles.push(v);
  EXPECT_FALSE(settles.using_fallback());
  for (int i = 0; i < 8; ++i) settles.push(0.5);
  EXPECT_TRUE(settles.using_fallback());
  EXPECT_DOUBLE_EQ(settles.forecast(2), 0.5);

  settles.clear();
  EXPECT_EQ(settles.size(), 0u);
  EXPECT_THROW_WITH(settles.forecast(1), UsageError, "no values");
}

TEST(ArForecaster, ClampsToTheUnitIntervalOnlyWhenConfigured) {
  // x_t = 0.5 x_{t−1} + 0.55 heads for 1.1.
  std::vector<double> x = {0.0, 0.55, 0.825, 0.9625};
  ArForecaster open(config(1, 4));
  ForecastConfig c = config(1, 4);
  c.clamp_unit = true;
  ArForecaster clamped(c);
  for (double v : x) {
    open.push(v);
    clamped.push(v);
  }
  EXPECT_NEAR(open.forecast(1), 1.03125, 1e-9);
  EXPECT_DOUBLE_EQ(clamped.forecast(1), 1.0);
  EXPECT_DOUBLE_EQ(clamped.forecast(5), 1.0);
  EXPECT_GT(open.forecast(5), 1.05);
}

TEST(ArForecaster, RefusesBadConfigsAndValues) {
  auto refused = [](ForecastConfig c, const char* needle) {
    EXPECT_THROW_WITH(ArForecaster{c}, UsageError, needle);
  };
  ForecastConfig c;
  c.order = 0;
  refused(c, "forecast.order");
  c = ForecastConfig{};
  c.window = 5;  // order 2 needs 6
  refused(c, "forecast.window: must be >= 2·order + 2 = 6");
  c = ForecastConfig{};
  c.horizon = 0;
  refused(c, "forecast.horizon");
  c = ForecastConfig{};
  c.refit_every = -1;
  refused(c, "forecast.refit_every");

  ArForecaster model;
  EXPECT_THROW_WITH(model.push(std::nan("")), UsageError, "not a finite");
  model.push(0.5);
  EXPECT_THROW_WITH(model.forecast(0), UsageError, "horizon must be >= 1");
}

TEST(ForecastError, Ar2BeatsTheNaiveForecast) {
  auto x = ar2_series(5000, 0.05, 11);
  ForecastConfig c;  // p = 2, W = 64, h = 1
  ForecastError e = forecast_error(x, c);
  // Ready after 2p + 2 = 6 values; the last h values have no future.
  EXPECT_EQ(e.forecasts, 5000u - 6u + 1u - 1u);
  // For this process the naive error's spread is √(2(1 − ρ₁)·var x) ≈
  // 1.23 σ against the AR's σ, so the ideal ratio is ≈ 0.82; fitting on
  // 64 values costs a little of that.
  EXPECT_LT(e.ar_mae, 0.9 * e.naive_mae);
  // Close to the noise's own mean absolute value, σ·√(2/π) ≈ 0.040.
  EXPECT_NEAR(e.ar_mae, 0.05 * std::sqrt(2.0 / std::acos(-1.0)), 0.01);

  c.horizon = 3;
  ForecastError e3 = forecast_error(x, c);
  EXPECT_EQ(e3.forecasts, 5000u - 6u + 1u - 3u);
  EXPECT_LT(e3.ar_mae, e3.naive_mae);
}

TEST(ForecastError, RefusesShortOrNonFiniteSeries) {
  ForecastConfig c;  // needs 2·2 + 2 + 1 = 7 values
  EXPECT_THROW_WITH(forecast_error(std::vector<double>(6, 0.5), c), UsageError,
                    "too short");
  ForecastError e = forecast_error(std::vector<double>(7, 0.5), c);
  EXPECT_EQ(e.forecasts, 1u);
  EXPECT_DOUBLE_EQ(e.ar_mae, 0.0);
  std::vector<double> bad(20, 0.5);
  bad[10] = std::nan("");
  EXPECT_THROW_WITH(forecast_error(bad, c), UsageError, "not a finite");
}

}  // namespace
}  // namespace adascale::runtime

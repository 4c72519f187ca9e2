#include "runtime/forecast_selector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

ForecastConfig config(const std::string& model, int horizon = 1) {
  ForecastConfig c;
  c.order = 2;
  c.window = 64;
  c.horizon = horizon;
  c.model = model;
  c.score_halflife = 20;
  return c;
}

// A load that cycles: 0.5 + 0.3·sin(2πt/16) plus a little noise. An AR(2)
// holds a sinusoid exactly (x_t = 2cos ω·x_{t−1} − x_{t−2} + c); the last
// value lags it by a step.
std::vector<double> cycle(size_t n, uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.01);
  std::vector<double> x;
  for (size_t t = 0; t < n; ++t) {
    x.push_back(0.5 + 0.3 * std::sin(2 * M_PI * double(t) / 16) + noise(rng));
  }
  return x;
}

// A random walk: the last value is the best forecast there is, and a fitted
// AR only adds the noise of its estimated coefficients.
std::vector<double> random_walk(size_t n, uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> step(0.0, 0.05);
  std::vector<double> x = {0.5};
  while (x.size() < n) x.push_back(x.back() + step(rng));
  return x;
}

TEST(ForecastSelector, PicksArWhereItForecastsBetter) {
  ForecastSelector best(config("best"));
  const auto x = cycle(2000);
  for (double v : x) best.push(v);
  const ForecastScore& s = best.score();
  EXPECT_EQ(best.choice(), ForecastModel::kAr);
  EXPECT_LT(s.ar_mae, 0.5 * s.naive_mae) << s.ar_mae << " vs " << s.naive_mae;
  // Scored from the first forecast with AR ready (6 values for order 2).
  EXPECT_EQ(s.scored, x.size() - 6);
  EXPECT_EQ(s.ar_used + s.naive_used, x.size());
  // Naive only until AR has a record of one half-life (and a fit).
  EXPECT_GT(s.ar_used, x.size() - 40);
  EXPECT_LT(s.used_mae, 0.6 * s.naive_mae);
  // The forecast it answers with is the AR model's.
  EXPECT_DOUBLE_EQ(best.forecast(), best.ar().forecast(1));
}

TEST(ForecastSelector, KeepsTheLastValueOnARandomWalk) {
  ForecastSelector best(config("best"));
  const auto x = random_walk(2000);
  for (double v : x) best.push(v);
  const ForecastScore& s = best.score();
  EXPECT_LT(s.naive_mae, s.ar_mae);
  EXPECT_GT(s.naive_used, 3 * s.ar_used) << s.naive_used << " / " << s.ar_used;
  // What the policy got is no worse than AR alone, and close to naive.
  EXPECT_LE(s.used_mae, s.ar_mae);
  EXPECT_LT(s.used_mae, 1.02 * s.naive_mae);
}

TEST(ForecastSelector, FixedModelsAreScoredButNotSwitched) {
  ForecastSelector ar(config("ar")), naive(config("naive"));
  for (double v : cycle(300)) {
    ar.push(v);
    naive.push(v);
  }
  EXPECT_EQ(ar.choice(), ForecastModel::kAr);
  EXPECT_EQ(ar.score().naive_used, 0u);
  EXPECT_DOUBLE_EQ(ar.score().used_mae, ar.score().ar_mae);
  EXPECT_EQ(naive.choice(), ForecastModel::kNaive);
  EXPECT_EQ(naive.score().ar_used, 0u);
  EXPECT_DOUBLE_EQ(naive.score().used_mae, naive.score().naive_mae);
  EXPECT_DOUBLE_EQ(ar.score().ar_mae, naive.score().ar_mae);
  EXPECT_DOUBLE_EQ(naive.forecast(), cycle(300).back());
}

TEST(ForecastSelector, ATieGoesToNaive) {
  // A constant load: AR falls back to the last value, both score 0.
  ForecastSelector best(config("best"));
  for (int i = 0; i < 200; ++i) best.push(0.25);
  EXPECT_EQ(best.choice(), ForecastModel::kNaive);
  EXPECT_EQ(best.score().ar_used, 0u);
  EXPECT_DOUBLE_EQ(best.score().ar_recent, best.score().naive_recent);
  EXPECT_DOUBLE_EQ(best.forecast(), 0.25);
}

TEST(ForecastSelector, ScoresEachForecastAgainstTheValueHStepsLater) {
  ForecastConfig c = config("naive", /*horizon=*/2);
  c.order = 1;  // ready at 4 values
  ForecastSelector naive(c);
  for (double v : {0.0, 1.0, 3.0, 6.0, 10.0, 15.0, 21.0}) naive.push(v);
  // From the 4th value on: 6 for 15, 10 for 21.
  EXPECT_EQ(naive.score().scored, 2u);
  EXPECT_DOUBLE_EQ(naive.score().naive_mae, (9.0 + 11.0) / 2);
  EXPECT_EQ(naive.score().naive_used, 7u);
  EXPECT_DOUBLE_EQ(naive.forecast(), 21.0);
  naive.clear();
  EXPECT_EQ(naive.score().scored, 0u);
  EXPECT_THROW_WITH(naive.forecast(), UsageError, "no values");
}

TEST(ForecastSelector, RefusesBadConfigsAndValues) {
  ForecastConfig c = config("mean");
  EXPECT_THROW_WITH(
      ForecastSelector{c}, UsageError,
      "forecast.model: expected one of ar|naive|best, got 'mean'");
  c = config("best");
  c.score_halflife = 0;
  EXPECT_THROW_WITH(ForecastSelector{c}, UsageError, "forecast.score_halflife");
  ForecastSelector best(config("best"));
  best.push(0.5);
  EXPECT_THROW_WITH(best.push(std::nan("")), UsageError, "not a finite");
  EXPECT_EQ(best.score().naive_used, 1u);  // the bad value changed nothing
}

}  // namespace
}  // namespace adascale::runtime

#include "search/latency_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "search/energy_model.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

core::DeviceProfile test_device() {
  core::DeviceProfile d;
  d.name = "test_board";
  d.cpu = {4, 2000, 500, 40.0, 8.0, 2.0};  // 10 GMAC/s per core
  d.memory.size_mib = 4096;
  d.memory.clock_mhz = 1600;
  d.memory.bandwidth_gbs = 10;
  d.memory.latency_ns = 100;
  d.memory.active_power_w = 1;
  d.memory.caches = {{"l1d", 32, 1, 100}, {"l2", 1024, 10, 50}};
  return d;
}

LayerProfile layer(const std::string& kind, int64_t macs, int64_t bytes,
                   std::vector<int64_t> out = {1, 16, 8, 8}) {
  LayerProfile l;
  l.kind = kind;
  l.macs = macs;
  l.memory_access_bytes = bytes;
  l.output_shape = std::move(out);
  return l;
}

TEST(LatencyModel, RooflineTakesTheSlowerOfComputeAndMemory) {
  auto d = test_device();
  // Compute-bound: 1e7 MACs on one 10 GMAC/s core = 1 ms; 1 KiB from L1.
  EXPECT_NEAR(layer_roofline_seconds(layer("conv2d", 10'000'000, 1024), d, 1),
              1e-3, 1e-9);
  // Two threads halve the compute time.
  EXPECT_NEAR(layer_roofline_seconds(layer("conv2d", 10'000'000, 1024), d, 2),
              0.5e-3, 1e-9);
  // Memory-bound: 512 KiB sits in L2 (50 GB/s); 4 MiB streams from DRAM.
  EXPECT_NEAR(layer_roofline_seconds(layer("relu", 0, 512 * 1024), d, 1),
              512.0 * 1024 / 50e9, 1e-12);
  EXPECT_NEAR(layer_roofline_seconds(layer("relu", 0, 4 << 20), d, 1),
              double(4 << 20) / 10e9, 1e-12);
}

TEST(LatencyModel, ClassifiesLayersByKindAndIntensity) {
  // 16·8·8 outputs: 9 MACs each is depthwise-like, 144 is dense.
  EXPECT_EQ(classify_layer(layer("conv2d", 9 * 1024, 1)),
            LayerClass::kThinConv);
  EXPECT_EQ(classify_layer(layer("conv2d", 144 * 1024, 1)), LayerClass::kConv);
  EXPECT_EQ(classify_layer(layer("linear", 100, 1)), LayerClass::kLinear);
  EXPECT_EQ(classify_layer(layer("batch_norm", 0, 1)), LayerClass::kNormalize);
  EXPECT_EQ(classify_layer(layer("adaptive_avg_pool2d", 0, 1)),
            LayerClass::kPool);
  EXPECT_EQ(classify_layer(layer("hardswish", 0, 1)), LayerClass::kElementwise);
}

TEST(LatencyModel, NonNegativeLeastSquaresMatchesKnownSolutions) {
  // Unconstrained optimum (1, 2) is feasible: NNLS returns it.
  std::vector<double> a = {1, 0, 0, 1, 1, 1};
  auto x = nonnegative_least_squares(a, 2, {1, 2, 3});
  EXPECT_NEAR(x[0], 1, 1e-9);
  EXPECT_NEAR(x[1], 2, 1e-9);
  // Unconstrained optimum has x0 < 0: NNLS clamps it and refits x1.
  x = nonnegative_least_squares({1, 0, 0, 1, 1, 1}, 2, {-2, 2, 0});
  EXPECT_DOUBLE_EQ(x[0], 0.0);
  EXPECT_NEAR(x[1], 1.0, 1e-9);  // min (x1 − 2)² + x1² at x1 = 1
}

TEST(LatencyModel, FitRecoversPlantedCoefficients) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  LatencyModel truth;
  truth.class_scale = {3.0, 8.0, 1.5, 0.0, 2.0, 4.0};
  truth.per_layer_s = {20e-6, 0, 5e-6, 2e-6, 0, 1e-6};
  std::vector<LatencyFeatures> features;
  std::vector<double> measured;
  for (int i = 0; i < 200; ++i) {
    LatencyFeatures f;
    for (auto& r : f.roofline_s) r = 1e-4 * u(rng);
    for (auto& l : f.layers) l = std::floor(5 + 30 * u(rng));
    features.push_back(f);
    measured.push_back(truth.predict_ms(f));
  }
  LatencyModel fit = fit_latency_model(features, measured);
  for (size_t c = 0; c < kLayerClasses; ++c)
    EXPECT_NEAR(fit.class_scale[c], truth.class_scale[c], 1e-6) << c;
  for (size_t c = 0; c < kLayerClasses; ++c)
    EXPECT_NEAR(fit.per_layer_s[c], truth.per_layer_s[c], 1e-10) << c;
  EXPECT_EQ(fit.fitted_on, 200);

  // Out-of-fold predictions of exact data are exact.
  auto cv = cross_validated_predictions(features, measured, 5);
  auto acc = prediction_accuracy(cv, measured);
  EXPECT_DOUBLE_EQ(acc.within_10pct, 1.0);
  EXPECT_LT(acc.max_abs_rel_error, 1e-6);

  // A load correction planted in measurements under load is found again:
  // κ = 1.6 and λ = 40 µs per layer at load 0.5.
  std::vector<double> loaded;
  for (size_t i = 0; i < measured.size(); ++i)
    loaded.push_back(measured[i] * (1 + 1.6 * 0.5) +
                     40e-3 * 0.5 * features[i].total_layers());
  fit_load_correction(fit, features, loaded, 0.5);
  EXPECT_NEAR(fit.load_slope, 1.6, 1e-6);
  EXPECT_NEAR(fit.load_per_layer_s, 40e-6, 1e-11);
  const double idle = fit.predict_ms(features[0]);
  EXPECT_NEAR(fit.predict_ms(idle, features[0].total_layers(), 0.5, 2.0),
              2.0 * loaded[0], 1e-9);
  EXPECT_DOUBLE_EQ(fit.predict_ms(idle, 50, 0.0), idle);
}

TEST(LatencyModel, BadFitInputsAreRefused) {
  std::vector<LatencyFeatures> f(10);
  std::vector<double> m(10, 1.0);
  EXPECT_THROW_WITH(fit_latency_model(f, std::vector<double>(9, 1.0)),
                    UsageError, "9 measured");
  EXPECT_THROW_WITH(fit_latency_model(std::vector<LatencyFeatures>(1), {1}),
                    UsageError, "at least 2");
  EXPECT_THROW_WITH(cross_validated_predictions(f, m, 6), UsageError,
                    "6 folds over 10");
  m[4] = std::nan("");
  EXPECT_THROW_WITH(fit_latency_model(f, m), UsageError,
                    "not a positive number");
  LatencyModel model;
  EXPECT_THROW_WITH(fit_load_correction(model, f, m, 0.0), UsageError,
                    "too low");
}

TEST(EnergyModel, HitRateFollowsTheAccessTimeOfTheLevelHolding) {
  auto d = test_device();
  EXPECT_DOUBLE_EQ(cache_hit_rate(1024, d), 1.0);  // L1: t = t1
  EXPECT_NEAR(cache_hit_rate(512 * 1024, d), (100.0 - 10) / (100 - 1), 1e-12);
  EXPECT_DOUBLE_EQ(cache_hit_rate(64 << 20, d), 0.0);  // DRAM

  ModelProfile p;
  p.layers = {layer("conv2d", 0, 1024), layer("relu", 0, 64 << 20)};
  double expected = 1024.0 / (1024.0 + (64 << 20));
  EXPECT_NEAR(cache_hit_rate(p, d), expected, 1e-12);
}

TEST(EnergyModel, EnergyGrowsWithTimeAndMisses) {
  auto d = test_device();
  ModelProfile cached, streaming;
  cached.layers = {layer("conv2d", 0, 1024)};
  cached.memory_access_bytes = 1024;
  streaming.layers = {layer("relu", 0, 64 << 20)};
  streaming.memory_access_bytes = 64 << 20;
  auto a = predict_energy(cached, d, 10.0, 4);
  // All four cores at full clock draw the active power: 8 W × 10 ms.
  EXPECT_NEAR(a.processor_mj, 80.0, 1e-9);
  EXPECT_DOUBLE_EQ(a.memory_mj, 0.0);
  auto b = predict_energy(streaming, d, 10.0, 4);
  // 64 MiB from DRAM at 10 GB/s and 1 W.
  EXPECT_NEAR(b.memory_mj, double(64 << 20) / 10e9 * 1e3, 1e-9);
  EXPECT_GT(b.total_mj(), a.total_mj());
  // One core: idle share 0.5 W + a quarter of the 6 W above idle.
  EXPECT_NEAR(predict_energy(cached, d, 10.0, 1).processor_mj, 20.0, 1e-9);
}

}  // namespace
}  // namespace adascale::search

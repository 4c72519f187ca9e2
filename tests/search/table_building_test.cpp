// build_tables() on a tiny net: one index row per variant, one predictive
// row per variant × device × batch; a measuring build fits this machine's
// model and reports it; measured again above the fitted load it fits the
// load correction instead and keeps the idle measurements; a device not
// measured borrows the fitted efficiency. No assertion on a duration.

#include "search/table_building.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "tests/fixtures/tiny_elastic_spec.h"
#include "tests/test_util.h"

namespace adascale::search {
namespace {

using adascale::testing::TempDir;

core::DeviceProfile profile(const std::string& file) {
  return core::load_device_profile(std::string(ADASCALE_SOURCE_DIR) +
                                   "/configs/devices/" + file);
}

struct TinyBuild {
  operators::ElasticNet net{testing::tiny_elastic_spec(4, {"dws", "dws"})};
  std::vector<core::Variant> variants = net->variants().all();
  int validations = 0;

  ValidationScores scores() {
    ++validations;
    ValidationScores s;
    for (size_t i = 0; i < variants.size(); ++i) {
      s.top1.push_back(0.5 + 0.01 * double(i));
      s.images.push_back(40);
    }
    return s;
  }

  TablesReport build(const PerformanceTables& previous,
                     const TableBuildOptions& options) {
    return build_tables(
        net, variants, previous, [&] { return scores(); }, options);
  }
};

TableBuildOptions options(const std::string& probe_dir) {
  TableBuildOptions o;
  o.devices = {profile("generic_x86.yaml"), profile("raspberry_pi_4b.yaml")};
  o.batches = {1, 2};
  o.repeats = 4;
  o.folds = 2;
  o.probe_dir = probe_dir;
  return o;
}

TEST(TableBuilding, RowsForEveryVariantDeviceAndBatch) {
  TempDir dir;
  TinyBuild tiny;
  const TablesReport r = tiny.build({}, options(dir.path()));
  const size_t n = tiny.variants.size();
  ASSERT_EQ(r.tables.index.size(), n);
  EXPECT_EQ(r.tables.predictive.size(), n * 2 * 2);
  EXPECT_EQ(r.tables.models.size(), 4u);
  EXPECT_EQ(tiny.validations, 1);
  EXPECT_DOUBLE_EQ(r.tables.index[1].validation_top1, 0.51);
  EXPECT_EQ(r.tables.index[1].validation_images, 40);
  EXPECT_TRUE(r.fits.empty()) << "nothing measured";
  for (const auto& p : r.tables.predictive) {
    EXPECT_TRUE(std::isnan(p.measured_latency_ms));
    EXPECT_GT(p.predicted_latency_ms, 0.0);
  }
}

TEST(TableBuilding, AMeasuredBuildFitsThenProbesTheLoad) {
  TempDir dir;
  TinyBuild tiny;
  TableBuildOptions o = options(dir.path());
  o.measure = true;
  o.assume_load = 0.0;
  const TablesReport idle = tiny.build({}, o);
  ASSERT_EQ(idle.fits.size(), 2u);  // batch 1 and 2 of the first device
  EXPECT_EQ(idle.fits[0].mode, LatencyFitReport::Mode::kFit);
  EXPECT_EQ(idle.fits[0].device, o.devices[0].name);
  EXPECT_EQ(idle.fits[0].folds, 2);
  const LatencyModelEntry* here = idle.tables.model(o.devices[0].name, 1);
  ASSERT_NE(here, nullptr);
  EXPECT_GT(here->model.fitted_on, 0);
  // The device not measured borrows the efficiency fitted here.
  const LatencyModelEntry* there = idle.tables.model(o.devices[1].name, 1);
  ASSERT_NE(there, nullptr);
  EXPECT_EQ(there->model.fitted_on, 0);
  EXPECT_EQ(there->model.class_scale, here->model.class_scale);
  size_t measured = 0;
  for (const auto& p : idle.tables.predictive)
    measured +=
        p.device == o.devices[0].name && !std::isnan(p.measured_latency_ms);
  EXPECT_EQ(measured, 2 * tiny.variants.size());

  o.assume_load = 0.9;  // far above the load the model was fitted at
  const TablesReport loaded = tiny.build(idle.tables, o);
  ASSERT_EQ(loaded.fits.size(), 2u);
  const LatencyFitReport& probe = loaded.fits[0];
  EXPECT_EQ(probe.mode, LatencyFitReport::Mode::kLoadCorrection);
  EXPECT_DOUBLE_EQ(probe.background_load, 0.9);
  EXPECT_TRUE(std::filesystem::exists(probe.probe_csv)) << probe.probe_csv;
  EXPECT_GT(probe.tested_on, 0u);
  const LatencyModelEntry* corrected =
      loaded.tables.model(o.devices[0].name, 1);
  EXPECT_DOUBLE_EQ(corrected->load_probe_load, 0.9);
  EXPECT_EQ(corrected->model.class_scale, here->model.class_scale)
      << "the idle fit stays; only the load correction is fitted";
  // The idle measurements the model rests on are kept.
  for (size_t i = 0; i < loaded.tables.predictive.size(); ++i)
    if (loaded.tables.predictive[i].device == o.devices[0].name) {
      EXPECT_EQ(loaded.tables.predictive[i].measured_latency_ms,
                idle.tables.predictive[i].measured_latency_ms);
    }
}

TEST(TableBuilding, ScoresFromAnEarlierBuildAreReusedOnlyWhenComplete) {
  TempDir dir;
  TinyBuild tiny;
  const TablesReport first = tiny.build({}, options(dir.path()));
  const core::VariantSpace& space = tiny.net->variants();
  auto reused = previous_validation(first.tables, space, tiny.variants, 40);
  ASSERT_TRUE(reused);
  EXPECT_TRUE(reused->from_previous);
  EXPECT_DOUBLE_EQ(reused->top1[2], 0.52);
  EXPECT_FALSE(previous_validation(first.tables, space, tiny.variants, 41))
      << "scored on another number of images";
  PerformanceTables partial = first.tables;
  partial.index.pop_back();
  EXPECT_FALSE(previous_validation(partial, space, tiny.variants, 40));
}

TEST(TableBuilding, BadOptionsAreRefused) {
  TempDir dir;
  TinyBuild tiny;
  TableBuildOptions o = options(dir.path());
  o.devices.push_back(o.devices[0]);
  EXPECT_THROW_WITH(tiny.build({}, o), UsageError, "given twice");
  o = options(dir.path());
  o.batches = {2};
  EXPECT_THROW_WITH(tiny.build({}, o), UsageError, "start with 1");
  o.devices.clear();
  EXPECT_THROW_WITH(tiny.build({}, o), UsageError, "no device profile");
}

}  // namespace
}  // namespace adascale::search

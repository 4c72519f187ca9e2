#include "runtime/form_cache.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

using adascale::testing::TempDir;

FormCacheKey key() {
  return {"cpu=Test CPU; logical_cpus=2; threads=2", "mode=fastest", "w1"};
}

std::vector<std::string> names() {
  return {"stem", "stage1/basic", "exit1"};
}

std::vector<CachedForm> forms() {
  // block, form, rule, eager / optimized / int8 / xnnpack ms, p, gain
  return {{"stem",
           Form::kXnnpack,
           FormRule::kSignificant,
           0.2,
           0.25,
           0,
           0.125,
           0.004,
           0.5,
           {}},
          {"stage1/basic",
           Form::kEager,
           FormRule::kSignificant,
           0.5,
           0.7,
           0,
           0.75,
           1e-4,
           0.28,
           {}},
          {"exit1",
           Form::kInt8,
           FormRule::kSignificant,
           0.3,
           0.2,
           0.1,
           0,
           2e-6,
           0.5,
           {}}};
}

TEST(FormCache, WhatIsWrittenIsReadBack) {
  TempDir dir;
  const std::string path = form_cache_path(dir.path() + "/cache", key());
  write_form_cache(path, key(), forms());  // makes the directory
  FormCacheRead read = read_form_cache(path, key(), names());
  ASSERT_EQ(read.status, FormCacheStatus::kHit) << read.reason;
  ASSERT_EQ(read.forms.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(read.forms[i].block, forms()[i].block);
    EXPECT_EQ(read.forms[i].form, forms()[i].form);
    EXPECT_EQ(read.forms[i].rule, forms()[i].rule);
    EXPECT_NEAR(read.forms[i].eager_ms, forms()[i].eager_ms, 1e-9);
    EXPECT_NEAR(read.forms[i].optimized_ms, forms()[i].optimized_ms, 1e-9);
    EXPECT_NEAR(read.forms[i].int8_ms, forms()[i].int8_ms, 1e-9);
    EXPECT_NEAR(read.forms[i].xnnpack_ms, forms()[i].xnnpack_ms, 1e-9);
    EXPECT_NEAR(read.forms[i].p_value, forms()[i].p_value, 1e-12);
    EXPECT_NEAR(read.forms[i].gain, forms()[i].gain, 1e-9);
  }
  // `sha256sum`-style: the last line is the SHA-256 of all lines above.
  std::string text = core::read_file(path);
  const size_t last = text.rfind("sha256 ");
  EXPECT_EQ(text.substr(last + 7, 64), core::sha256_hex(text.substr(0, last)));
}

TEST(FormCache, ThreadSamplesAreReadBackAndBounded) {
  TempDir dir;
  const std::string path = dir.file("forms.txt");
  std::vector<CachedForm> with_threads = forms();
  with_threads[1].threads = {{2, {0.5, 0.25, 0.75}}, {1, {0.125, 0.5, 1}}};
  write_form_cache(path, key(), with_threads);
  FormCacheRead read = read_form_cache(path, key(), names());
  ASSERT_EQ(read.status, FormCacheStatus::kHit) << read.reason;
  EXPECT_TRUE(read.forms[0].threads.empty());
  ASSERT_EQ(read.forms[1].threads.size(), 2u);
  EXPECT_EQ(read.forms[1].threads[1].threads, 1);
  EXPECT_EQ(read.forms[1].threads[1].ms, (std::vector<double>{0.125, 0.5, 1}));
  // A consistent file claiming more samples than it holds, or absurdly
  // many, is refused without allocating them.
  const std::string good = core::read_file(path);
  const std::string body = good.substr(0, good.rfind("sha256 "));
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{
           {" 1 3 0.125", " 1 4 0.125"},
           {" 1 3 0.125", " 1 999999999 0.125"},
           {" 2 2 3 0.5", " 99 2 3 0.5"}}) {
    std::string edited = body;
    const size_t at = edited.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    edited.replace(at, from.size(), to);
    core::write_file_atomic(
        path, edited + "sha256 " + core::sha256_hex(edited) + "\n");
    EXPECT_EQ(read_form_cache(path, key(), names()).status,
              FormCacheStatus::kCorrupt)
        << to;
  }
}

TEST(FormCache, AMissingFileIsAMiss) {
  TempDir dir;
  FormCacheRead read =
      read_form_cache(dir.file("forms-none.txt"), key(), names());
  EXPECT_EQ(read.status, FormCacheStatus::kMissing);
  EXPECT_TRUE(read.forms.empty());
}

TEST(FormCache, OtherConditionsMakeItStale) {
  TempDir dir;
  const std::string path = dir.file("forms.txt");
  write_form_cache(path, key(), forms());
  FormCacheKey other_weights = key();
  other_weights.weights = "w2";
  FormCacheKey other_machine = key();
  other_machine.machine = "cpu=Other CPU; logical_cpus=2; threads=2";
  FormCacheKey other_settings = key();
  other_settings.settings = "mode=fastest alpha=0.05";
  for (const auto& [k, why] : std::vector<std::pair<FormCacheKey, std::string>>{
           {other_weights, "other weights"},
           {other_machine, "another machine"},
           {other_settings, "other engine settings"}}) {
    FormCacheRead read = read_form_cache(path, k, names());
    EXPECT_EQ(read.status, FormCacheStatus::kStale) << why;
    EXPECT_NE(read.reason.find(why), std::string::npos) << read.reason;
    EXPECT_NE(read.reason.find(path), std::string::npos) << read.reason;
  }
  // Another net: other block names or count.
  EXPECT_EQ(
      read_form_cache(path, key(), {"stem", "stage1/dws", "exit1"}).status,
      FormCacheStatus::kStale);
  EXPECT_EQ(read_form_cache(path, key(), {"stem"}).status,
            FormCacheStatus::kStale);
}

TEST(FormCache, AnyEditTruncationOrForeignFileIsCorrupt) {
  TempDir dir;
  const std::string path = dir.file("forms.txt");
  write_form_cache(path, key(), forms());
  const std::string good = core::read_file(path);
  auto status_of = [&](const std::string& text) {
    core::write_file_atomic(path, text);
    FormCacheRead read = read_form_cache(path, key(), names());
    if (read.status != FormCacheStatus::kHit) {
      EXPECT_NE(read.reason.find(path), std::string::npos) << read.reason;
    }
    return read.status;
  };
  // One form edited by hand: the checksum no longer matches.
  std::string edited = good;
  edited.replace(edited.find("block stage1/basic eager"), 24,
                 "block stage1/basic int8 ");
  EXPECT_EQ(status_of(edited), FormCacheStatus::kCorrupt);
  EXPECT_EQ(status_of(good.substr(0, good.size() / 2)),
            FormCacheStatus::kCorrupt);
  EXPECT_EQ(status_of(good.substr(0, good.size() - 1)),
            FormCacheStatus::kCorrupt);
  EXPECT_EQ(status_of(""), FormCacheStatus::kCorrupt);
  EXPECT_EQ(status_of("not a cache\n"), FormCacheStatus::kCorrupt);
  // A consistent checksum over a body of another format or with a bad
  // line is still refused.
  auto signed_body = [](const std::string& body) {
    return body + "sha256 " + core::sha256_hex(body) + "\n";
  };
  EXPECT_EQ(status_of(signed_body("adascale-engine-form 3\nmachine x\n")),
            FormCacheStatus::kCorrupt);
  // An older version of the format is the normal first start after an
  // upgrade: stale, timed again, not a warning about damage.
  EXPECT_EQ(status_of(signed_body("adascale-engine-forms 1\nmachine x\n")),
            FormCacheStatus::kStale);
  const std::string body = good.substr(0, good.rfind("sha256 "));
  std::string unknown_form = body;
  unknown_form.replace(unknown_form.find("block exit1 int8"), 16,
                       "block exit1 fp16");
  EXPECT_EQ(status_of(signed_body(unknown_form)), FormCacheStatus::kCorrupt);
  // The last block line cut short: a field missing.
  const std::string short_line =
      body.substr(0, body.rfind(' ', body.size() - 2)) + "\n";
  EXPECT_EQ(status_of(signed_body(short_line)), FormCacheStatus::kCorrupt);
  EXPECT_EQ(status_of(good), FormCacheStatus::kHit);
}

TEST(FormCache, FileNamesFollowMachineAndSettingsNotWeights) {
  FormCacheKey a = key();
  FormCacheKey b = key();
  b.weights = "retrained";
  EXPECT_EQ(form_cache_path("/d", a), form_cache_path("/d", b));
  b.settings = "mode=fastest precision=int8";
  EXPECT_NE(form_cache_path("/d", a), form_cache_path("/d", b));
  EXPECT_EQ(std::filesystem::path(form_cache_path("/d", a)).parent_path(),
            "/d");
}

TEST(FormCache, FingerprintsFollowTheWeights) {
  torch::manual_seed(0);
  torch::nn::Linear a(4, 3);
  torch::manual_seed(0);
  torch::nn::Linear b(4, 3);
  EXPECT_EQ(weights_fingerprint(*a), weights_fingerprint(*b));
  EXPECT_TRUE(core::is_sha256_hex(weights_fingerprint(*a)));
  {
    torch::NoGradGuard no_grad;
    b->weight[0][0].add_(1e-6);
  }
  EXPECT_NE(weights_fingerprint(*a), weights_fingerprint(*b));
}

TEST(FormCache, TheMachineLineNamesThreadsAndLibTorch) {
  const std::string m = machine_description(3);
  EXPECT_NE(m.find("threads=3"), std::string::npos) << m;
  EXPECT_NE(m.find("libtorch="), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_NE(machine_description(1), m);
}

}  // namespace
}  // namespace adascale::runtime

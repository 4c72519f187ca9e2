#include "core/bundle_manifest.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/sha256.h"
#include "tests/hostile_yaml.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

BundleManifest tiny_manifest() {
  BundleManifest m;
  m.created_by = "adascale test";
  m.source = "runs/tiny";
  m.model.name = "tiny";
  m.model.classes = 3;
  m.model.resolution = 8;
  m.model.stem.channels = 8;
  for (int s = 0; s < 2; ++s) {
    StageSpec stage;
    stage.out_channels = 16;
    stage.stride = 2;
    CandidateSpec a, b;
    a.op.type = "basic";
    b.op.type = "dws";
    stage.candidates = {a, b};
    m.model.stages.push_back(stage);
  }
  finalize_model_spec(m.model, "test");
  m.normalization = {{0.4914, 0.4822, 0.4465}, {0.247, 0.2435, 0.2616}};
  m.classes = {"cat", "dog", "0"};
  m.trunk = {"dws"};
  m.variants = {{"e1:basic", 1, 0.625}, {"e1:dws", 1, NAN}};
  return m;
}

TEST(BundleManifest, YamlRoundTripsEveryField) {
  BundleManifest m = tiny_manifest();
  BundleManifest back = parse_manifest(manifest_yaml(m), "m.yaml");
  EXPECT_EQ(back.format, kBundleFormat);
  EXPECT_EQ(back.format_version, kBundleFormatVersion);
  EXPECT_EQ(back.source, "runs/tiny");
  EXPECT_EQ(model_spec_yaml(back.model), model_spec_yaml(m.model));
  EXPECT_EQ(back.normalization.mean, m.normalization.mean);  // exact doubles
  EXPECT_EQ(back.normalization.std, m.normalization.std);
  EXPECT_EQ(back.classes, m.classes);
  EXPECT_EQ(back.trunk_choices(), std::vector<int>{1});
  ASSERT_EQ(back.variants.size(), 2u);
  EXPECT_EQ(back.variants[0].id, "e1:basic");
  EXPECT_EQ(back.variants[0].validation_top1, 0.625);
  EXPECT_TRUE(std::isnan(back.variants[1].validation_top1));
}

TEST(BundleManifest, AnotherVersionIsRefusedNamingBothVersions) {
  BundleManifest m = tiny_manifest();
  m.format_version = 7;
  EXPECT_THROW_WITH(parse_manifest(manifest_yaml(m), "m.yaml"), DataError,
                    "m.yaml: bundle format version 7, this build reads "
                    "version 1");
  // Checked before anything else, so a future layout cannot confuse it.
  EXPECT_THROW_WITH(check_manifest_format("format: adascale-bundle\n"
                                          "format_version: 2\nnew_key: 1\n",
                                          "m.yaml"),
                    DataError, "version 2, this build reads version 1");
}

// The parser's reason reaches the user: a billion-laughs manifest is
// refused as one, not as "not YAML".
TEST(BundleManifest, AnAliasBombIsRefusedSayingSo) {
  const std::string bomb = "format: adascale-bundle\nformat_version: 1\n" +
                           testing::billion_laughs("classes");
  EXPECT_THROW_WITH(check_manifest_format(bomb, "m.yaml"), DataError,
                    "m.yaml: not an AdaScale bundle manifest: more than");
  EXPECT_THROW_WITH(check_manifest_format(bomb, "m.yaml"), DataError,
                    "once YAML aliases are expanded");
}

TEST(BundleManifest, ForeignOrInconsistentManifestsAreRefused) {
  EXPECT_THROW_WITH(parse_manifest("name: run\nseed: 3\n", "m.yaml"), DataError,
                    "m.yaml: not an AdaScale bundle manifest");
  EXPECT_THROW_WITH(parse_manifest("\x01\x02: [", "m.yaml"), DataError,
                    "not an AdaScale bundle manifest");
  EXPECT_THROW_WITH(
      parse_manifest("format: adascale-bundle\nformat_version: x\n", "m.yaml"),
      DataError, "format_version");

  BundleManifest m = tiny_manifest();
  m.classes.pop_back();
  EXPECT_THROW_WITH(parse_manifest(manifest_yaml(m), "m.yaml"), DataError,
                    "m.yaml: classes: 2 names for model.classes = 3");
  m = tiny_manifest();
  m.trunk = {"fire"};
  EXPECT_THROW_WITH(parse_manifest(manifest_yaml(m), "m.yaml"), DataError,
                    "'fire' is not a candidate of stage 1");
  m = tiny_manifest();
  m.variants.push_back({"e2:basic.basic", 2, 0.5});  // exit 2 not trained
  EXPECT_THROW_WITH(parse_manifest(manifest_yaml(m), "m.yaml"), DataError,
                    "only 1 stage(s) were trained");
  m = tiny_manifest();
  m.normalization.std = {1, 0, 1};
  EXPECT_THROW_WITH(parse_manifest(manifest_yaml(m), "m.yaml"), DataError,
                    "normalization.std");
  EXPECT_THROW_WITH(
      parse_manifest(manifest_yaml(tiny_manifest()) + "extra: 1\n", "m.yaml"),
      DataError, "extra: unknown key");
}

TEST(Checksums, FormatIsSha256sumsAndParsesBack) {
  std::vector<FileChecksum> sums = {{"a.txt", sha256_hex("a"), 0},
                                    {"b.pt", sha256_hex("b"), 0}};
  std::string text = format_checksums(sums);
  EXPECT_EQ(text.substr(0, 66), sha256_hex("a") + "  ");
  auto back = parse_checksums(text, "SUMS");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].file, "b.pt");
  EXPECT_EQ(back[1].sha256, sha256_hex("b"));
  // Binary-mode lines and upper-case digests, as sha256sum accepts.
  std::string upper = sha256_hex("a");
  for (char& c : upper) c = char(std::toupper(c));
  auto binary = parse_checksums(upper + " *a.txt\n", "SUMS");
  EXPECT_EQ(binary[0].sha256, sha256_hex("a"));
}

TEST(Checksums, MalformedDuplicateAndEscapingLinesAreRefused) {
  const std::string h = sha256_hex("x");
  EXPECT_THROW_WITH(parse_checksums("", "SUMS"), DataError, "lists no files");
  EXPECT_THROW_WITH(parse_checksums(h + " a\n", "SUMS"), DataError,
                    "SUMS: line 1: not a '<sha256>  <file>' line");
  EXPECT_THROW_WITH(parse_checksums("abc  a\n", "SUMS"), DataError, "line 1");
  EXPECT_THROW_WITH(parse_checksums(h + "  a\n" + h + "  a\n", "SUMS"),
                    DataError, "line 2: a listed twice");
  for (const std::string bad : {"../x", "/etc/passwd", "sub/x", "..", "a\\b"})
    EXPECT_THROW_WITH(parse_checksums(h + "  " + bad + "\n", "SUMS"), DataError,
                      "'" + bad + "' is not a file inside the bundle");
}

class VerifyChecksums : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& f : bundle_required_files()) dir_.write(f, "data of " + f);
    write_sums(checksum_files(dir_.path(), bundle_required_files()));
  }
  void write_sums(const std::vector<FileChecksum>& sums) {
    dir_.write(kBundleChecksumsFile, format_checksums(sums));
  }
  TempDir dir_;
};

TEST_F(VerifyChecksums, AcceptsAnIntactDirectoryWithSizes) {
  auto sums = verify_checksums(dir_.path());
  ASSERT_EQ(sums.size(), 3u);
  EXPECT_EQ(sums[1].file, kBundleWeightsFile);
  EXPECT_EQ(sums[1].bytes, int64_t(std::string("data of weights.pt").size()));
}

TEST_F(VerifyChecksums, NamesTheBundleAndTheFileAtFault) {
  dir_.write(kBundleWeightsFile, "data of weights.pT");
  EXPECT_THROW_WITH(verify_checksums(dir_.path()), DataError,
                    "bundle " + dir_.path() + ": weights.pt: SHA-256 mismatch");
  SetUp();
  std::filesystem::remove(dir_.file(kBundleTablesFile));
  EXPECT_THROW_WITH(verify_checksums(dir_.path()), DataError,
                    "tables.h5: missing");
  SetUp();
  write_sums(
      checksum_files(dir_.path(), {kBundleManifestFile, kBundleTablesFile}));
  EXPECT_THROW_WITH(verify_checksums(dir_.path()), DataError,
                    "weights.pt: not listed in SHA256SUMS");
  SetUp();
  std::filesystem::remove(dir_.file(kBundleChecksumsFile));
  EXPECT_THROW_WITH(verify_checksums(dir_.path()), DataError,
                    "SHA256SUMS: missing");
}

TEST_F(VerifyChecksums, ALinkIsRefusedEvenToAMatchingFile) {
  std::string elsewhere = dir_.write("sub/secret", "data of weights.pt");
  std::filesystem::remove(dir_.file(kBundleWeightsFile));
  std::filesystem::create_symlink(elsewhere, dir_.file(kBundleWeightsFile));
  EXPECT_THROW_WITH(verify_checksums(dir_.path()), DataError,
                    "weights.pt: not a regular file");
}

}  // namespace
}  // namespace adascale::core

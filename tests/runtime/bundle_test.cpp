#include "runtime/bundle.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"
#include "search/performance_tables.h"
#include "tests/archive_damage.h"
#include "tests/fixtures/tiny_elastic_spec.h"
#include "tests/hostile_yaml.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"

namespace adascale::runtime {
namespace {

namespace fs = std::filesystem;
using adascale::testing::TempDir;

core::ModelSpec tiny_spec() {
  return testing::tiny_elastic_spec(4, {"dws", "fire", "ghost"}, 8);
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    net_ = operators::ElasticNet(tiny_spec());
    // Moves BatchNorm running statistics off their defaults, so the test
    // sees buffers travel as well as parameters.
    net_->train();
    {
      torch::NoGradGuard no_grad;
      for (const auto& v : net_->variants().all())
        net_->forward(torch::randn({4, 3, 8, 8}), v);
    }
    net_->eval();
    meta_.normalization = {{0.5, 0.25, 0.125}, {0.2, 0.3, 0.4}};
    meta_.class_names = {"a", "b", "c", "d"};
    meta_.trunk = {1, 0};  // two of three stages trained
    meta_.source = "runs/tiny";
    search::PerformanceTables tables;
    const auto& space = net_->variants();
    for (const auto& v : space.all()) {
      if (v.exit >= 2) continue;
      search::IndexEntry e;
      e.key = space.pack(v);
      e.variant = space.to_string(v);
      e.exit = v.exit + 1;
      e.validation_top1 = 0.25 + 0.01 * double(tables.index.size());
      tables.index.push_back(e);
    }
    tables.index.front().validation_top1 = NAN;
    tables_ = dir_.file("run/tables.h5");
    fs::create_directories(dir_.file("run"));
    search::write_tables(tables, tables_, dir_.file("run/tables.csv"));
    bundle_ = dir_.file("tiny.adascale");
  }

  // A copy of the written bundle to tamper with.
  std::string copy(const std::string& name) {
    const std::string to = dir_.file(name);
    fs::copy(bundle_, to, fs::copy_options::recursive);
    return to;
  }

  // Rewrites SHA256SUMS so that it matches the files again.
  static void reseal(const std::string& dir) {
    core::write_file_atomic(dir + "/SHA256SUMS",
                            core::format_checksums(core::checksum_files(
                                dir, core::bundle_required_files())));
  }

  TempDir dir_;
  operators::ElasticNet net_{nullptr};
  BundleMetadata meta_;
  std::string tables_;
  std::string bundle_;
};

// Far above what loading the tiny bundle takes, far below what an
// unbounded allocation asks for.
constexpr size_t kHeadroom = size_t(512) << 20;

// Exit codes of the child that loads one bundle (load_bounded).
constexpr int kLoaded = 0;
constexpr int kRefusedByName = 10;

// Loads bundle `dir` in a child under the address-space limit, where a
// failed allocation ends the child even if caught. The child exits
// kRefusedByName for a DataError (or, with `or_config_error`, a
// ConfigError) whose message holds "bundle " + `needle`; any other error
// comes back as its message.
testing::LimitedRun load_bounded(const std::string& dir,
                                 const std::string& needle,
                                 bool or_config_error = false) {
  return testing::run_within_memory(kHeadroom, [&] {
    auto named = [&](const Error& e) {
      return std::string(e.what()).find("bundle " + needle) !=
             std::string::npos;
    };
    try {
      load_bundle(dir);
      return kLoaded;
    } catch (const DataError& e) {
      if (named(e)) return kRefusedByName;
      throw;
    } catch (const ConfigError& e) {
      if (or_config_error && named(e)) return kRefusedByName;
      throw;
    }
  });
}

std::string describe(const testing::LimitedRun& run) {
  if (run.status == testing::kRanOutOfMemory) {
    return "an allocation failed under the address-space limit";
  }
  return "status " + std::to_string(run.status) + ": " + run.message;
}

TEST_F(BundleTest, RoundTripGivesBitIdenticalLogits) {
  core::BundleManifest written = write_bundle(bundle_, net_, meta_, tables_);
  EXPECT_EQ(written.variants.size(), 2u + 4u);  // exits 1 and 2 trained
  LoadedBundle b = load_bundle(bundle_);
  EXPECT_FALSE(b.net->is_training());
  EXPECT_EQ(b.trunk, meta_.trunk);
  EXPECT_EQ(b.class_names, meta_.class_names);
  EXPECT_EQ(b.normalization.mean, meta_.normalization.mean);
  EXPECT_EQ(b.normalization.std, meta_.normalization.std);
  EXPECT_EQ(core::model_spec_yaml(b.spec), core::model_spec_yaml(tiny_spec()));
  EXPECT_EQ(b.manifest.trunk, (std::vector<std::string>{"dws", "basic"}));
  EXPECT_EQ(b.manifest.source, "runs/tiny");
  ASSERT_EQ(b.manifest.variants.size(), 6u);
  EXPECT_TRUE(std::isnan(b.manifest.variants[0].validation_top1));
  EXPECT_DOUBLE_EQ(b.manifest.variants[5].validation_top1, 0.30);
  EXPECT_EQ(core::read_file(b.tables_path), core::read_file(tables_));
  ASSERT_EQ(b.files.size(), 3u);
  for (const auto& f : b.files) {
    EXPECT_EQ(f.bytes, int64_t(fs::file_size(bundle_ + "/" + f.file)));
  }

  torch::NoGradGuard no_grad;
  auto x = torch::randn({3, 3, 8, 8});
  int compared = 0;
  for (const auto& v : net_->variants().all()) {
    SCOPED_TRACE(net_->variants().to_string(v));
    EXPECT_TRUE(torch::equal(net_->forward(x, v), b.net->forward(x, v)));
    ++compared;
  }
  EXPECT_EQ(compared, 14);
  // Every parameter and buffer came back, not just those the variants use.
  auto mine = net_->named_buffers();
  auto theirs = b.net->named_buffers();
  ASSERT_EQ(mine.size(), theirs.size());
  for (const auto& item : mine)
    EXPECT_TRUE(torch::equal(item.value(), theirs[item.key()])) << item.key();
}

TEST_F(BundleTest, MissingParentDirectoriesAreMade) {
  const std::string nested = dir_.file("bundles/new/tiny.adascale");
  write_bundle(nested, net_, meta_, tables_);
  EXPECT_EQ(load_bundle(nested).trunk, meta_.trunk);
  // A parent that cannot be a directory is one clear error.
  core::write_file_atomic(dir_.file("plain"), "x");
  EXPECT_THROW_WITH(
      write_bundle(dir_.file("plain/tiny.adascale"), net_, meta_, tables_),
      IoError, "plain: cannot create the directory");
}

TEST_F(BundleTest, Sha256sumCheckPassesInTheBundle) {
  write_bundle(bundle_, net_, meta_, tables_);
  const std::string cmd =
      "cd '" + bundle_ + "' && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(BundleTest, TamperedTruncatedOrMissingFilesAreRefused) {
  write_bundle(bundle_, net_, meta_, tables_);
  {
    std::string b = copy("flipped.adascale");
    std::string bytes = core::read_file(b + "/weights.pt");
    bytes[bytes.size() / 2] ^= 0x01;
    core::write_file_atomic(b + "/weights.pt", bytes);
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "bundle " + b + ": weights.pt: SHA-256 mismatch");
  }
  {
    std::string b = copy("truncated.adascale");
    std::string bytes = core::read_file(b + "/weights.pt");
    core::write_file_atomic(b + "/weights.pt",
                            bytes.substr(0, bytes.size() - 100));
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "weights.pt: SHA-256 mismatch");
  }
  {
    std::string b = copy("missing.adascale");
    fs::remove(b + "/tables.h5");
    EXPECT_THROW_WITH(load_bundle(b), DataError, "tables.h5: missing");
  }
  {
    std::string b = copy("manifest_edit.adascale");
    std::string text = core::read_file(b + "/manifest.yaml");
    text.replace(text.find("name: tiny"), 10, "name: tino");
    core::write_file_atomic(b + "/manifest.yaml", text);
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "manifest.yaml: SHA-256 mismatch");
  }
  {
    std::string b = copy("unlisted.adascale");
    std::string sums = core::read_file(b + "/SHA256SUMS");
    sums.erase(sums.find(core::sha256_file_hex(b + "/weights.pt")));
    core::write_file_atomic(b + "/SHA256SUMS", sums);
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "weights.pt: not listed in SHA256SUMS");
  }
}

TEST_F(BundleTest, ChecksumsAreVerifiedBeforeWeightsAreRead) {
  write_bundle(bundle_, net_, meta_, tables_);
  // Garbage weights with matching checksums get as far as deserialising;
  // the same garbage unsealed is stopped by its checksum first.
  std::string b = copy("garbage.adascale");
  core::write_file_atomic(b + "/weights.pt", "not a zip archive");
  EXPECT_THROW_WITH(load_bundle(b), DataError, "weights.pt: SHA-256 mismatch");
  reseal(b);
  EXPECT_THROW_WITH(load_bundle(b), DataError,
                    "weights.pt: not a readable weights archive");
  // Weights of another net, sealed: they do not fit the manifest's spec.
  std::string other = copy("other.adascale");
  core::ModelSpec spec = tiny_spec();
  spec.classes = 7;
  torch::serialize::OutputArchive archive;
  operators::ElasticNet(spec)->save(archive);
  archive.save_to(other + "/weights.pt");
  reseal(other);
  EXPECT_THROW_WITH(load_bundle(other), DataError,
                    "weights.pt: weights do not fit the model");
}

TEST_F(BundleTest, ForeignOrWrongVersionDirectoriesAreRefused) {
  write_bundle(bundle_, net_, meta_, tables_);
  EXPECT_THROW_WITH(load_bundle(dir_.file("nowhere")), IoError,
                    "no such directory");
  EXPECT_THROW_WITH(load_bundle(dir_.file("run")), DataError,
                    "not an AdaScale bundle (no manifest.yaml)");
  EXPECT_THROW_WITH(load_bundle(tables_), DataError, "not a directory");
  {
    std::string b = copy("foreign.adascale");
    core::write_file_atomic(b + "/manifest.yaml", "name: run\nseed: 1\n");
    reseal(b);
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "manifest.yaml: not an AdaScale bundle manifest");
  }
  {
    std::string b = copy("v2.adascale");
    std::string text = core::read_file(b + "/manifest.yaml");
    text.replace(text.find("format_version: 1"), 17, "format_version: 2");
    core::write_file_atomic(b + "/manifest.yaml", text);
    // Refused by its version, sealed or not.
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "manifest.yaml: bundle format version 2, this build "
                      "reads version 1");
    reseal(b);
    EXPECT_THROW_WITH(load_bundle(b), DataError, "format version 2");
  }
  {
    std::string b = copy("escape.adascale");
    core::write_file_atomic(dir_.file("outside"), "secret");
    std::string sums = core::read_file(b + "/SHA256SUMS");
    sums += core::sha256_hex("secret") + "  ../outside\n";
    core::write_file_atomic(b + "/SHA256SUMS", sums);
    EXPECT_THROW_WITH(load_bundle(b), DataError,
                      "SHA256SUMS: line 4: '../outside' is not a file inside "
                      "the bundle");
  }
}

TEST_F(BundleTest, ExistingBundleIsReplacedOnlyWithForce) {
  write_bundle(bundle_, net_, meta_, tables_);
  EXPECT_THROW_WITH(write_bundle(bundle_, net_, meta_, tables_), IoError,
                    "already exists; pass --force");
  meta_.class_names = {"w", "x", "y", "z"};
  write_bundle(bundle_ + "/", net_, meta_, tables_, /*force=*/true);
  EXPECT_EQ(load_bundle(bundle_).class_names, meta_.class_names);
  // --force never replaces what is not a bundle.
  EXPECT_THROW_WITH(write_bundle(dir_.file("run"), net_, meta_, tables_, true),
                    IoError, "is not an AdaScale bundle");
  EXPECT_TRUE(fs::exists(tables_));
  // No temporary directories left beside the bundle.
  for (const auto& e : fs::directory_iterator(dir_.path()))
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
}

TEST_F(BundleTest, MissingForeignTablesOrBadMetadataWriteNothing) {
  EXPECT_THROW_WITH(
      write_bundle(bundle_, net_, meta_, dir_.file("run/none.h5")), IoError,
      "none.h5: no such file");
  EXPECT_THROW(
      write_bundle(bundle_, net_, meta_, dir_.write("run/junk.h5", "not hdf5")),
      Error);
  BundleMetadata bad = meta_;
  bad.class_names.pop_back();
  EXPECT_THROW_WITH(write_bundle(bundle_, net_, bad, tables_), UsageError,
                    "3 class names for a net of 4 classes");
  bad = meta_;
  bad.trunk = {0, 0, 0, 0};
  EXPECT_THROW_WITH(write_bundle(bundle_, net_, bad, tables_), UsageError,
                    "trunk of 4 stages");
  EXPECT_FALSE(fs::exists(bundle_));
  for (const auto& e : fs::directory_iterator(dir_.path()))
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
}

// A bundle whose manifest, consistent and correctly checksummed, asks for
// a net far larger than its weights: refused from the stored shapes before
// anything is built (checked under an address-space limit).
TEST_F(BundleTest, OversizedSpecIsRefusedBeforeTheNetIsBuilt) {
  write_bundle(bundle_, net_, meta_, tables_);
  struct Case {
    std::function<void(core::ModelSpec&)> change;
    std::string needle;
  };
  const Case cases[] = {
      {[](core::ModelSpec& m) { m.stages[0].out_channels = 16384; },
       "the manifest gives stage1_basic out_channels = 16384"},
      {[](core::ModelSpec& m) {
         m.stages[1].depth = 64;
         for (auto& c : m.stages[1].candidates) c.depth = 64;
       },
       "the manifest gives stage2_basic 64 blocks"},
      {[](core::ModelSpec& m) { m.stem.channels = 4096; },
       "the manifest gives stem channels = 4096"},
      // Both at once: 64 blocks of 4096 channels in every candidate of
      // stage 2 would be gigabytes of weights built before any check.
      {[](core::ModelSpec& m) {
         m.stages[1].depth = 64;
         m.stages[1].out_channels = 4096;
         for (auto& c : m.stages[1].candidates) c.depth = 64;
       },
       "the manifest gives stage2_basic 64 blocks"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string b = copy("hostile" + std::to_string(n++));
    core::BundleManifest m = core::read_manifest(b + "/manifest.yaml");
    c.change(m.model);
    // As the stage sets them: the resolved values would no longer agree.
    for (auto& stage : m.model.stages) {
      for (auto& cand : stage.candidates) {
        cand.op.in_channels = 0;
        cand.op.out_channels = 0;
      }
    }
    core::write_file_atomic(b + "/manifest.yaml", core::manifest_yaml(m));
    reseal(b);
    const auto run =
        adascale::testing::run_within_memory(size_t(512) << 20, [&] {
          try {
            load_bundle(b);
          } catch (const DataError& e) {
            const std::string what = e.what();
            if (what.find(c.needle) != std::string::npos &&
                what.find("weights.pt: weights do not fit the model") !=
                    std::string::npos) {
              return 0;
            }
            throw;
          }
          return 6;
        });
    EXPECT_EQ(run.status, 0) << c.needle << " " << run.message;
  }
}

// Damaged weights, resealed so the checksums pass, at 64 bytes spread over
// the archive, each loaded under the address-space limit: a DataError
// naming weights.pt or a load, never another error, a crash or an
// unbounded allocation; a damaged byte of a tensor's data loads as it is
// (SHA256SUMS alone guards the values). TorchScript code records are left
// whole: LibTorch compiles them while it loads, and a damaged one crashes
// it, which only the checksums prevent.
TEST_F(BundleTest, DamagedWeightsPickleIsRefusedNamingTheFile) {
  write_bundle(bundle_, net_, meta_, tables_);
  const std::string good = core::read_file(bundle_ + "/weights.pt");
  const std::vector<testing::ZipRecord> records = testing::zip_records(good);
  ASSERT_FALSE(records.empty());
  const std::string b = copy("fuzzed");
  int refused_in_pickle = 0, tensor_bytes = 0;
  for (size_t offset : testing::damageable_offsets(good, records, 64)) {
    std::string damaged = good;
    damaged[offset] = char(damaged[offset] ^ 0x21);
    core::write_file_atomic(b + "/weights.pt", damaged);
    reseal(b);
    const testing::ZipRecord* in = testing::record_at(records, offset);
    SCOPED_TRACE("offset " + std::to_string(offset) + " in " +
                 (in != nullptr ? in->name : "the zip directory"));
    const testing::LimitedRun run = load_bounded(b, b + ": weights.pt");
    if (in != nullptr && in->holds_tensor_byte(offset)) {
      ++tensor_bytes;
      EXPECT_EQ(run.status, kLoaded) << describe(run);
      continue;
    }
    EXPECT_TRUE(run.status == kLoaded || run.status == kRefusedByName)
        << describe(run);
    if (in != nullptr && in->inner() == "data.pkl") {
      refused_in_pickle += run.status == kRefusedByName;
    }
  }
  // The sweep got past the zip structure into the pickles and the tensors.
  EXPECT_GT(refused_in_pickle, 0);
  EXPECT_GT(tensor_bytes, 0);
}

// Weights whose data.pkl stores a memo index of 1.6e9 (the shape of the
// checkpoint fuzzer's finding), with checksums that match: refused by name
// before LibTorch's unpickler sizes its memo by it (25.6 GB), also behind
// names LibTorch looks up (ignoring case) that a listing of "*.pkl" inside
// the archive's folder would pass over.
TEST_F(BundleTest, ResealedPickleMemoBombIsRefusedWithinBoundedMemory) {
  write_bundle(bundle_, net_, meta_, tables_);
  const std::string bomb = testing::with_memo_index(
      core::read_file(bundle_ + "/weights.pt"), 1600000000);
  ASSERT_FALSE(bomb.empty());
  const struct {
    const char* what;
    std::string archive;
  } cases[] = {
      {"in data.pkl", bomb},
      {"in data.Pkl", testing::with_record_renamed(bomb, "archive/data.pkl",
                                                   "archive/data.Pkl")},
      {"beside a record outside the folder",
       testing::with_record_renamed(bomb, "archive/version",
                                    "Archive/version")},
  };
  const std::string b = copy("memo_bomb");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_FALSE(c.archive.empty());
    core::write_file_atomic(b + "/weights.pt", c.archive);
    reseal(b);
    const testing::LimitedRun run =
        load_bounded(b, b + ": weights.pt: not a readable weights archive");
    EXPECT_EQ(run.status, kRefusedByName) << describe(run);
  }
}

// A billion-laughs manifest (413 bytes, 10^9 scalars once its aliases are
// copied out) with SHA256SUMS recomputed over it: the checksums do not make
// it safe, it is refused by name within bounded memory.
TEST_F(BundleTest, ResealedAliasBombManifestIsRefusedWithinBoundedMemory) {
  write_bundle(bundle_, net_, meta_, tables_);
  const std::string b = copy("alias_bomb");
  const std::string bomb = "format: adascale-bundle\nformat_version: 1\n" +
                           testing::billion_laughs("classes");
  core::write_file_atomic(b + "/manifest.yaml", bomb);
  reseal(b);
  const testing::LimitedRun run =
      load_bounded(b, b + ": manifest.yaml", /*or_config_error=*/true);
  EXPECT_EQ(run.status, kRefusedByName) << describe(run);
}

}  // namespace
}  // namespace adascale::runtime

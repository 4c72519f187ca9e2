// Hostile and damaged input to the core readers: bounded memory (checked
// under an address-space limit, never by timing), checksums that catch a
// damaged file, and writes that fail midway leaving the old file intact.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>

#include "core/atomic_file.h"
#include "core/bundle_manifest.h"
#include "core/config/node.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/file_checksum.h"
#include "core/sha256.h"
#include "tests/hostile_yaml.h"
#include "tests/log_capture.h"
#include "tests/memory_limit.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::billion_laughs;
using adascale::testing::kBadAlloc;
using adascale::testing::LogCapture;
using adascale::testing::run_with_address_limit;
using adascale::testing::TempDir;
namespace fs = std::filesystem;

constexpr size_t kHeadroom = size_t(512) << 20;

// Runs `body` (which must throw) under the limit; the child exits 0 when it
// threw a std::exception whose message holds `needle`.
void expect_bounded_refusal(const std::function<void()>& body,
                            const std::string& needle) {
  const auto run = run_with_address_limit(kHeadroom, [&] {
    try {
      body();
    } catch (const Error& e) {
      return std::string(e.what()).find(needle) != std::string::npos ? 0 : 5;
    }
    return 6;  // no error at all
  });
  EXPECT_EQ(run.status, 0) << (run.status == kBadAlloc
                                   ? "ran out of its address-space limit"
                                   : "status " + std::to_string(run.status))
                           << " " << run.message;
}

TEST(HostileConfig, AliasBombIsRefusedWithinBoundedMemory) {
  TempDir dir;
  const std::string path = dir.write("bomb.yaml", billion_laughs("name"));
  ASSERT_LT(fs::file_size(path), 600u);
  expect_bounded_refusal([&] { config::load_file(path); },
                         "once YAML aliases are expanded");
  // The same text as an included file and as a bundle manifest.
  const std::string top = dir.write("top.yaml", "include: bomb.yaml\n");
  expect_bounded_refusal([&] { config::load_file(top); },
                         "once YAML aliases are expanded");
  expect_bounded_refusal(
      [&] {
        parse_manifest("format: adascale-bundle\nformat_version: 1\n" +
                           billion_laughs("classes"),
                       "manifest.yaml");
      },
      "manifest.yaml");
}

TEST(HostileConfig, UnboundedFilesAndDirectoriesAreRefused) {
  TempDir dir;
  expect_bounded_refusal([] { config::load_file("/dev/zero"); },
                         "/dev/zero: larger than 4 MiB");
  dir.write("zero.yaml", "include: /dev/zero\n");
  expect_bounded_refusal([&] { config::load_file(dir.file("zero.yaml")); },
                         "/dev/zero: larger than 4 MiB");
  fs::create_directories(dir.file("folder"));
  dir.write("dir.yaml", "include: folder\n");
  EXPECT_THROW_WITH(config::load_file(dir.file("dir.yaml")), ConfigError,
                    "folder: is a directory, not a config file");
  EXPECT_THROW_WITH(config::load_file(dir.path()), ConfigError,
                    "is a directory");
}

TEST(HostileConfig, OneFileIncludedThousandsOfTimesIsRefused) {
  TempDir dir;
  dir.write("leaf.yaml", "x: 1\n");
  std::string many = "include: [";
  for (int i = 0; i < 1000; ++i)
    many += (i ? ", " : "") + std::string("leaf.yaml");
  dir.write("many.yaml", many + "]\n");
  EXPECT_THROW_WITH(config::load_file(dir.file("many.yaml")), ConfigError,
                    "config files included");
  // A handful of includes still loads.
  dir.write("few.yaml", "include: [leaf.yaml, leaf.yaml]\ny: 2\n");
  EXPECT_EQ(config::load_file(dir.file("few.yaml")).entries.size(), 2u);
}

TEST(HostileConfig, ThreadCountIsClampedToAFewPerCore) {
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  const int limit = kMaxThreadsPerCore * hardware;
  {
    LogCapture capture;
    EXPECT_EQ(resolve_threads("4096"), std::min(4096, limit));
    // The clamp is said, not silent (a machine with 1024+ hardware threads
    // has nothing to clamp).
    const std::string notice =
        "threads: 4096 is more than " + std::to_string(kMaxThreadsPerCore) +
        "x the " + std::to_string(hardware) + " hardware threads; using " +
        std::to_string(limit);
    if (4096 > limit) {
      EXPECT_NE(capture.text().find(notice), std::string::npos)
          << capture.text();
    } else {
      EXPECT_EQ(capture.text(), "");
    }
  }
  // Past the schema's own bound it is an error, as before.
  EXPECT_THROW_WITH(resolve_threads("100000"), ConfigError, "threads:");
  // At or under the limit: the count as given, and nothing said.
  LogCapture capture;
  EXPECT_EQ(resolve_threads("1"), 1);
  EXPECT_EQ(resolve_threads(std::to_string(limit)), limit);
  EXPECT_EQ(capture.text(), "");
}

TEST(FileChecksum, SealedBytesRoundTripAndAnyFlippedByteIsFound) {
  const std::string payload = "PK\x03\x04 some archive bytes";
  const std::string sealed = seal(payload);
  ASSERT_TRUE(is_sealed(sealed));
  EXPECT_EQ(unseal(sealed, "f.pt"), payload);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string damaged = sealed;
    damaged[i] = char(damaged[i] ^ 0x04);
    try {
      std::string back(unseal(damaged, "f.pt"));
      ADD_FAILURE() << "flip at " << i << " accepted";
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("f.pt: ", 0), 0u) << e.what();
    }
  }
  EXPECT_THROW_WITH(unseal(sealed.substr(0, 40), "f.pt"), DataError,
                    "malformed checksum header");
}

TEST(FileChecksum, SidecarFindsDamageAndAbsenceIsReported) {
  TempDir dir;
  const std::string path = dir.write("tables.h5", std::string(1000, 'h'));
  EXPECT_EQ(verify_checksum_sidecar(path), SidecarCheck::kAbsent);
  write_checksum_sidecar(path);
  EXPECT_EQ(read_file(checksum_sidecar_path(path)),
            sha256_hex(std::string(1000, 'h')) + "  tables.h5\n");
  EXPECT_EQ(verify_checksum_sidecar(path), SidecarCheck::kVerified);
  std::string bytes = read_file(path);
  bytes[500] = 'x';
  dir.write("tables.h5", bytes);
  EXPECT_THROW_WITH(verify_checksum_sidecar(path), DataError,
                    path + ": checksum mismatch with tables.h5.sha256");
  dir.write("tables.h5.sha256", "not a checksum\n");
  EXPECT_THROW_WITH(verify_checksum_sidecar(path), DataError, "malformed");
}

TEST(AtomicWrite, FailureMidwayLeavesTheOldFileAndNoTempFile) {
  TempDir dir;
  const std::string path = dir.file("last.pt");
  write_file_atomic(path, std::string(10000, 'a'));
  ::setenv("ADASCALE_TEST_WRITE_LIMIT", "4096", 1);
  EXPECT_THROW_WITH(write_file_atomic(path, std::string(10000, 'b')), IoError,
                    "No space left on device");
  ::unsetenv("ADASCALE_TEST_WRITE_LIMIT");
  EXPECT_EQ(read_file(path), std::string(10000, 'a'));
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "last.pt");
  }
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace adascale::core

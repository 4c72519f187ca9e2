// The fuzz targets' inputs in the regular build (no clang needed): every
// kept finding under tests/fuzz_regressions/<reader>/ goes through the same
// entry point as in the fuzzer and must be read or refused with a project
// error, within bounded memory; and every seed of the generated corpus does
// what it was made for (valid ones are read, hostile ones refused).

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz/fuzz_input.h"
#include "tests/memory_limit.h"

namespace adascale::fuzz {
namespace {

namespace fs = std::filesystem;
using adascale::testing::kBadAlloc;
using adascale::testing::kRanOutOfMemory;
using adascale::testing::run_within_memory;

// Far above what any kept input needs, far below an unbounded read.
constexpr size_t kHeadroom = size_t(512) << 20;

// Exit codes of the child that runs one input.
constexpr int kExpectedError = 10;
constexpr int kUnexpectedError = 11;

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> regression_inputs(const std::string& reader) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(ADASCALE_FUZZ_REGRESSIONS) / reader;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename() != "README.md") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs `entry` on `bytes`: 0 when read, kExpectedError when refused with a
// project error, kUnexpectedError (message in `message`) otherwise. Readers
// that use a thread pool (TBB) cannot run in the forked, memory-limited
// child; they run in this process.
int run_input(const std::string& reader, const std::string& bytes,
              std::string& message) {
  const Entry entry = entry_of(reader);
  auto body = [&]() -> int {
    try {
      entry(bytes);
      return 0;
    } catch (...) {
      const std::exception_ptr error = std::current_exception();
      message = describe_error(error);
      return is_expected_error(error) ? kExpectedError : kUnexpectedError;
    }
  };
  if (reader == "tiny_imagenet" || reader == "image_folder") return body();
  // A failed allocation ends the child even where the reader would catch
  // it: asking for gigabytes is the finding, however it is reported.
  const auto run = run_within_memory(kHeadroom, [&] {
    const int code = body();
    if (code == kUnexpectedError) throw std::runtime_error(message);
    return code;
  });
  if (run.status == kBadAlloc || run.status == kRanOutOfMemory) {
    message = "ran out of its address-space limit: " + run.message;
    return kUnexpectedError;
  }
  if (run.status != 0 && run.status != kExpectedError) {
    message = "status " + std::to_string(run.status) + ": " + run.message;
    return kUnexpectedError;
  }
  return run.status;
}

class FuzzInputs : public ::testing::TestWithParam<std::string> {};

TEST_P(FuzzInputs, KeptFindingsAreReadOrRefusedWithAProjectError) {
  for (const fs::path& file : regression_inputs(GetParam())) {
    std::string message;
    const int code = run_input(GetParam(), slurp(file), message);
    EXPECT_NE(code, kUnexpectedError) << file << ": " << message;
  }
}

TEST_P(FuzzInputs, ValidSeedsAreReadAndHostileOnesRefused) {
  for (const Seed& seed : seed_corpus(GetParam())) {
    std::string message;
    const int code = run_input(GetParam(), seed.bytes, message);
    EXPECT_EQ(code, seed.valid ? 0 : kExpectedError)
        << GetParam() << " seed " << seed.name << ": " << message;
  }
}

// A resealed seed passed over would be "read" without reaching the reader.
TEST(FuzzCheckpointInputs, ResealedSeedsReachTheReader) {
  int resealed = 0;
  for (const Seed& seed : seed_corpus("checkpoint")) {
    if (seed.bytes.rfind(std::string(kResealMarker), 0) != 0) continue;
    ++resealed;
    EXPECT_FALSE(checkpoint_input_passed_over(seed.bytes)) << seed.name;
  }
  EXPECT_GT(resealed, 0);
}

INSTANTIATE_TEST_SUITE_P(Readers, FuzzInputs,
                         ::testing::ValuesIn(fuzz_readers()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace adascale::fuzz

#pragma once
/// Helpers shared by every test binary.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace adascale::testing {

/// Asserts that `stmt` throws `Type` whose message contains `needle`.
#define EXPECT_THROW_WITH(stmt, Type, needle)                          \
  do {                                                                 \
    try {                                                              \
      stmt;                                                            \
      ADD_FAILURE() << "expected " #Type " containing '" << (needle)   \
                    << "', nothing thrown";                            \
    } catch (const Type& e) {                                          \
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) \
          << "message: " << e.what();                                  \
    }                                                                  \
  } while (0)

/// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name =
        std::string(info->test_suite_name()) + "." + info->name();
    const char* base = std::getenv("ADASCALE_TEST_TMP");
    path_ = std::filesystem::path(base ? base : "/tmp/adascale_tests") / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Path of `name` inside the directory.
  std::string file(const std::string& name) const {
    return (path_ / name).string();
  }
  std::string path() const { return path_.string(); }

  /// Writes `contents` to `name` (creating parent folders); returns its path.
  std::string write(const std::string& name,
                    const std::string& contents) const {
    std::filesystem::path p = path_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << contents;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace adascale::testing

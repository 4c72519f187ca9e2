#include "datasets/reader_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::datasets {
namespace {

using adascale::testing::TempDir;

TEST(ReaderUtil, ReadsFilesAndTrimsLines) {
  TempDir dir;
  const std::string bin = dir.write("a.bin", std::string("\0\1\2", 3));
  EXPECT_EQ(read_binary_file(bin), (std::vector<unsigned char>{0, 1, 2}));
  const std::string txt = dir.write("a.txt", "one \r\n\ntwo\t\n\n");
  EXPECT_EQ(read_text_lines(txt), (std::vector<std::string>{"one", "two"}));
}

// A directory used to pass the ifstream check and end in std::bad_alloc
// (binary) or an empty list (text).
TEST(ReaderUtil, DirectoriesAndMissingPathsAreDataErrors) {
  TempDir dir;
  EXPECT_THROW_WITH(read_binary_file(dir.path()), DataError,
                    dir.path() + ": cannot open: not a regular file");
  EXPECT_THROW_WITH(read_text_lines(dir.path()), DataError,
                    dir.path() + ": cannot open: not a regular file");
  EXPECT_THROW_WITH(read_binary_file(dir.file("none")), DataError,
                    dir.file("none") + ": cannot open");
  EXPECT_THROW_WITH(require_file(dir.path(), "batch file"), DataError,
                    dir.path() + ": batch file is not a regular file");
  const std::string file = dir.write("f", "x");
  EXPECT_THROW_WITH(require_directory(file, "dataset directory"), DataError,
                    file + ": dataset directory is not a directory");
  EXPECT_THROW_WITH(require_directory(file + "/sub", "dataset directory"),
                    DataError, file + "/sub: dataset directory not found");
  EXPECT_NO_THROW(require_directory(dir.path(), "dataset directory"));
  EXPECT_NO_THROW(require_file(file, "file"));
}

}  // namespace
}  // namespace adascale::datasets

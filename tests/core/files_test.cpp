#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/execution.h"
#include "core/run_config.h"
#include "core/run_directory.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;

TEST(AtomicFile, ReplacesContentsAndLeavesNoTemp) {
  TempDir dir;
  std::string path = dir.file("x.txt");
  write_file_atomic(path, "first");
  write_file_atomic(path, "second");
  EXPECT_EQ(read_file(path), "second");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

// A symlink planted at the temp name an older version predicted
// (".<name>.tmp-<pid>") must not redirect the write to its target.
TEST(AtomicFile, PlantedTempSymlinkIsNotFollowed) {
  TempDir dir;
  const std::string victim = dir.file("victim");
  write_file_atomic(victim, "keep me");
  std::filesystem::create_symlink(
      victim, dir.file(".out.tmp-" + std::to_string(::getpid())));
  write_file_atomic(dir.file("out"), "written");
  EXPECT_EQ(read_file(victim), "keep me");
  EXPECT_EQ(read_file(dir.file("out")), "written");
  EXPECT_FALSE(std::filesystem::is_symlink(dir.file("out")));
  // Mode as before mkstemp: readable by all.
  auto perms = std::filesystem::status(dir.file("out")).permissions();
  EXPECT_NE(perms & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(AtomicFile, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THROW_WITH(write_file_atomic(dir.file("no/such/dir/x"), "a"), IoError,
                    "no/such/dir/.x.tmp");
  EXPECT_THROW_WITH(read_file(dir.file("missing")), IoError,
                    "missing: cannot open");
}

TEST(AtomicFile, MakesMissingParentDirectories) {
  TempDir dir;
  make_parent_directories(dir.file("a/b/c.pt"));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("a/b")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("a/b/c.pt")));
  make_parent_directories("bare_name.pt");  // no parent: nothing to make
  write_file_atomic(dir.file("plain"), "x");
  EXPECT_THROW_WITH(make_parent_directories(dir.file("plain/c.pt")), IoError,
                    "plain: cannot create the directory");
}

TEST(RunDirectory, WritesResolvedConfigAndRefusesReuse) {
  TempDir dir;
  RunConfig c = load_run_config(std::nullopt, {"seed=5"});
  std::string run = dir.file("run1");
  {
    RunDirectory r = RunDirectory::open(run, c, false);
    EXPECT_TRUE(std::filesystem::is_directory(r.checkpoints_dir()));
    EXPECT_EQ(load_run_config(r.config_path(), {}).seed, 5);
  }
  EXPECT_TRUE(std::filesystem::exists(run + "/log.txt"));
  EXPECT_THROW_WITH(RunDirectory::open(run, c, false), IoError,
                    "already holds a run");
  EXPECT_NO_THROW(RunDirectory::open(run, c, true));
  RunConfig other = load_run_config(std::nullopt, {"seed=6"});
  EXPECT_THROW_WITH(RunDirectory::open(run, other, true), ConfigError,
                    "different config");
}

// A run whose config.yaml was written before the schema gained a key (so
// the key is missing from the file) resumes: the file is read back through
// today's schema, and only a value that differs is refused.
TEST(RunDirectory, ResumesAConfigWrittenBeforeAKeyExisted) {
  TempDir dir;
  RunConfig c = load_run_config(std::nullopt, {"seed=5"});
  std::string run = dir.file("run1");
  { RunDirectory r = RunDirectory::open(run, c, false); }
  std::string text = read_file(run + "/config.yaml");
  const std::string key = "  feature_matching: 0\n";
  ASSERT_NE(text.find(key), std::string::npos) << text;
  text.erase(text.find(key), key.size());
  write_file_atomic(run + "/config.yaml", text);
  EXPECT_NO_THROW(RunDirectory::open(run, c, true));
  EXPECT_EQ(read_file(run + "/config.yaml"), text) << "left as written";
  RunConfig other =
      load_run_config(std::nullopt, {"seed=5", "train.label_smoothing=0.2"});
  EXPECT_THROW_WITH(RunDirectory::open(run, other, true), ConfigError,
                    "different config");
}

TEST(Execution, ResolvesThreadsAndDevice) {
  EXPECT_GE(resolve_threads("auto"), 1);
  EXPECT_EQ(resolve_threads("3"), 3);
  EXPECT_THROW_WITH(resolve_threads("-1"), ConfigError, "threads:");
  EXPECT_EQ(resolve_device("cpu"), "cpu");
  EXPECT_THROW_WITH(resolve_device("tpu"), ConfigError, "auto|cpu|cuda");
  Execution e = setup_execution("2", "cpu", 7);
  EXPECT_EQ(e.threads, 2);
  EXPECT_EQ(tbb_threads(), 2);
  setup_execution("1", "cpu", 7);
  EXPECT_EQ(tbb_threads(), 1);
}

}  // namespace
}  // namespace adascale::core

// One writer per target: the lock is held across processes, names its
// holder, and a killed holder's lock is free again.

#include "core/path_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"
#include "tests/test_util.h"

namespace adascale::core {
namespace {

using adascale::testing::TempDir;
namespace fs = std::filesystem;

// A child process that takes the lock, says so through a pipe and then
// waits to be killed. Returns its pid once it holds the lock.
pid_t hold_in_child(const std::string& target) {
  int ready[2];
  if (::pipe(ready) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(ready[0]);
    try {
      PathLock lock = PathLock::acquire(target, "train");
      const char ok = 'y';
      if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(ready[1]);
  char got = 0;
  const bool ok = ::read(ready[0], &got, 1) == 1 && got == 'y';
  ::close(ready[0]);
  if (!ok) {
    ::waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST(PathLock, SecondProcessIsRefusedWithTheHoldersPid) {
  TempDir dir;
  const std::string run = dir.file("runs/r");
  const pid_t holder = hold_in_child(run);
  ASSERT_GT(holder, 0);
  EXPECT_THROW_WITH(PathLock::acquire(run, "train"), IoError,
                    "in use by another adascale process (pid " +
                        std::to_string(holder) + ", adascale train)");
  // Another spelling of the same directory is the same lock.
  EXPECT_THROW_WITH(PathLock::acquire(dir.file("runs/./r/"), "tables"), IoError,
                    "pid " + std::to_string(holder));
  kill_and_reap(holder);
}

TEST(PathLock, KilledHoldersLockIsTakenOver) {
  TempDir dir;
  const std::string run = dir.file("r");
  const pid_t holder = hold_in_child(run);
  ASSERT_GT(holder, 0);
  kill_and_reap(holder);
  // SIGKILL left the lock file with the dead pid in it.
  const std::string lock_file = PathLock::lock_path_for(run);
  ASSERT_TRUE(fs::exists(lock_file));
  EXPECT_EQ(read_file(lock_file).rfind(std::to_string(holder) + "\n", 0), 0u);
  PathLock lock = PathLock::acquire(run, "export");
  EXPECT_EQ(read_file(lock_file), std::to_string(::getpid()) + "\nexport\n");
}

TEST(PathLock, ReleasedLockCanBeTakenAgainAndLeavesNoFile) {
  TempDir dir;
  const std::string target = dir.file("b.adascale");
  std::string lock_file;
  {
    PathLock lock = PathLock::acquire(target, "export");
    lock_file = lock.lock_path();
    EXPECT_EQ(fs::path(lock_file).filename(), ".b.adascale.lock");
    // One process, two opens: still one writer.
    EXPECT_THROW_WITH(PathLock::acquire(target, "export"), IoError,
                      "in use by another adascale process");
  }
  EXPECT_FALSE(fs::exists(lock_file));
  PathLock again = PathLock::acquire(target, "export");
  PathLock moved = std::move(again);
  EXPECT_TRUE(fs::exists(moved.lock_path()));
}

TEST(PathLock, RacingProcessesNeverBothHoldIt) {
  TempDir dir;
  const std::string run = dir.file("race");
  constexpr int kRacers = 6;
  // start: closed by the parent to release every racer at once; result:
  // one byte per racer ('w' holds the lock, 'l' was refused); hold: the
  // winners keep the lock until the parent closes it.
  int start[2], result[2], hold[2];
  ASSERT_EQ(::pipe(start), 0);
  ASSERT_EQ(::pipe(result), 0);
  ASSERT_EQ(::pipe(hold), 0);
  for (int i = 0; i < kRacers; ++i) {
    if (::fork() != 0) continue;
    ::close(start[1]);
    ::close(result[0]);
    ::close(hold[1]);
    char c;
    while (::read(start[0], &c, 1) > 0) {
    }
    try {
      PathLock lock = PathLock::acquire(run, "train");
      c = 'w';
      if (::write(result[1], &c, 1) != 1) ::_exit(3);
      while (::read(hold[0], &c, 1) > 0) {
      }
    } catch (const IoError&) {
      c = 'l';
      if (::write(result[1], &c, 1) != 1) ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(start[0]);
  ::close(result[1]);
  ::close(hold[0]);
  ::close(start[1]);
  int winners = 0, losers = 0;
  for (int i = 0; i < kRacers; ++i) {
    char c = 0;
    ASSERT_EQ(::read(result[0], &c, 1), 1);
    (c == 'w' ? winners : losers) += 1;
  }
  ::close(hold[1]);
  ::close(result[0]);
  while (::wait(nullptr) > 0) {
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(losers, kRacers - 1);
}

}  // namespace
}  // namespace adascale::core

#pragma once
/// One writer per target: an exclusive, advisory lock on a run directory,
/// a bundle or any other path that a command writes, held for as long as
/// the PathLock lives. Two `adascale train` on one run, or two `export`
/// into one bundle, would otherwise interleave their files.
///
/// The lock is flock(2) on a hidden file beside the target
/// (`<parent>/.<name>.lock`), so the target itself may be missing, created
/// or replaced by a rename while it is held. The kernel drops the lock
/// when its holder exits, however it exits: a lock left by a killed
/// process is free again, and is taken over with a notice naming the
/// dead pid. The file records the holder's pid and command, which a
/// refused second process names in its error.

#include <string>

namespace adascale::core {

/// An exclusive lock on a path; movable, released by the destructor.
class PathLock {
 public:
  /// Locks `target` (a file or directory, existing or not; its parent is
  /// created when missing) for `command` ("train", "export", ...).
  /// Never waits: a target another process holds is an IoError
  /// "<target>: in use by another adascale process (pid N, adascale
  /// train); wait for it to finish or choose another path". IoError too
  /// when the lock file cannot be created.
  static PathLock acquire(const std::string& target,
                          const std::string& command);

  PathLock(PathLock&& other) noexcept;
  PathLock& operator=(PathLock&& other) noexcept;
  PathLock(const PathLock&) = delete;
  PathLock& operator=(const PathLock&) = delete;
  ~PathLock();

  /// The lock file (`<parent>/.<name>.lock`).
  const std::string& lock_path() const { return lock_path_; }

  /// The lock file that guards `target`; what acquire() locks.
  static std::string lock_path_for(const std::string& target);

 private:
  PathLock(int fd, std::string lock_path)
      : fd_(fd), lock_path_(std::move(lock_path)) {}
  void release() noexcept;

  int fd_ = -1;
  std::string lock_path_;
};

}  // namespace adascale::core

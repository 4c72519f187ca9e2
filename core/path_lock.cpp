#include "core/path_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/logging.h"

namespace adascale::core {
namespace fs = std::filesystem;

namespace {

// The holder's record: "<pid>\n<command>\n". Read without the lock (the
// holder may be rewriting it), so anything unexpected reads as unknown.
struct Holder {
  long pid = 0;
  std::string command;
};

Holder read_holder(int fd) {
  char buf[256] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  Holder h;
  if (n <= 0) return h;
  const std::string text(buf, size_t(n));
  const size_t eol = text.find('\n');
  try {
    size_t used = 0;
    h.pid = std::stol(text.substr(0, eol), &used);
    if (used != text.substr(0, eol).size() || h.pid <= 0) h.pid = 0;
  } catch (const std::exception&) {
    h.pid = 0;
  }
  if (eol != std::string::npos) {
    const size_t end = text.find('\n', eol + 1);
    h.command = text.substr(
        eol + 1, end == std::string::npos ? std::string::npos : end - eol - 1);
  }
  return h;
}

bool process_alive(long pid) {
  return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM);
}

// The target's spelling does not matter: "runs/x", "./runs/x/" and an
// absolute path lock the same file.
fs::path normalized_target(const std::string& target) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(target, ec), ec);
  if (ec) p = fs::absolute(target).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p;
}

}  // namespace

std::string PathLock::lock_path_for(const std::string& target) {
  const fs::path p = normalized_target(target);
  if (p.filename().empty() || p == p.root_path()) {
    throw UsageError("'" + target + "' is not a path that can be locked");
  }
  return (p.parent_path() / ("." + p.filename().string() + ".lock")).string();
}

PathLock PathLock::acquire(const std::string& target,
                           const std::string& command) {
  const std::string lock_path = lock_path_for(target);
  make_parent_directories(lock_path);
  // Retried when the file found was unlinked by a holder releasing it
  // between our open and our flock: that lock guards nothing any more.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path.c_str(),
                          O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      throw IoError(lock_path +
                    ": cannot create the lock file: " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int saved = errno;
      const Holder holder = read_holder(fd);
      ::close(fd);
      if (saved != EWOULDBLOCK && saved != EINTR) {
        throw IoError(lock_path + ": cannot lock: " + std::strerror(saved));
      }
      throw IoError(fmt::format(
          "{}: in use by another adascale process ({}{}); wait for it to "
          "finish or choose another path",
          target,
          holder.pid > 0 ? fmt::format("pid {}", holder.pid)
                         : std::string("pid unknown"),
          holder.command.empty() ? std::string()
                                 : ", adascale " + holder.command));
    }
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) != 0 || ::stat(lock_path.c_str(), &named) != 0 ||
        held.st_ino != named.st_ino || held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const Holder previous = read_holder(fd);
    if (previous.pid > 0 && previous.pid != long(::getpid())) {
      log::info("{}: taking over a stale lock of pid {}{}", target,
                previous.pid,
                process_alive(previous.pid)
                    ? std::string(" (which no longer holds it)")
                    : std::string(", no longer running"));
    }
    const std::string record = fmt::format("{}\n{}\n", ::getpid(), command);
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, record.data(), record.size(),
                                            0) != ssize_t(record.size())) {
      const int saved = errno;
      ::close(fd);
      throw IoError(lock_path +
                    ": cannot write the lock file: " + std::strerror(saved));
    }
    return PathLock(fd, lock_path);
  }
  throw IoError(lock_path + ": the lock file keeps being replaced");
}

PathLock::PathLock(PathLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      lock_path_(std::move(other.lock_path_)) {}

PathLock& PathLock::operator=(PathLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::exchange(other.fd_, -1);
    lock_path_ = std::move(other.lock_path_);
  }
  return *this;
}

PathLock::~PathLock() {
  release();
}

void PathLock::release() noexcept {
  if (fd_ < 0) return;
  // Unlinked while still locked, so a process that opens the old file
  // afterwards sees the inode change and retries on a fresh one.
  ::unlink(lock_path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace adascale::core

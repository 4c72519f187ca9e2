#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace adascale::core {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const char* what) {
  throw IoError(path + ": " + what + ": " + std::strerror(errno));
}

// Test hook: with ADASCALE_TEST_WRITE_LIMIT=N in the environment, every
// file written here fails with ENOSPC after its first N bytes, as on a
// disk that fills up mid-write. The crash-safety tests run the real
// binaries and library calls under it; nothing else sets it.
int64_t injected_write_limit() {
  const char* text = std::getenv("ADASCALE_TEST_WRITE_LIMIT");
  if (text == nullptr || *text == '\0') return -1;
  char* end = nullptr;
  const long long limit = std::strtoll(text, &end, 10);
  return *end == '\0' && limit >= 0 ? int64_t(limit) : -1;
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view contents) {
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : ".";
  // mkstemp creates a fresh name exclusively (O_CREAT|O_EXCL, mode 0600):
  // a file or symlink planted at a predictable temp name cannot redirect
  // the write.
  std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail(tmp, "cannot create");
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // Readable like any file we write (mkstemp leaves it private). Not
  // through umask(): reading it means setting it, process-wide.
  if (::fchmod(fd, 0644) != 0) {
    int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = saved;
    fail(tmp, "cannot set permissions");
  }
  const char* p = contents.data();
  size_t left = contents.size();
  const int64_t limit = injected_write_limit();
  while (left > 0) {
    size_t chunk = left;
    if (limit >= 0) {
      const auto written = int64_t(p - contents.data());
      if (written >= limit) {
        ::close(fd);
        ::unlink(tmp.c_str());
        errno = ENOSPC;
        fail(tmp, "write failed");
      }
      chunk = std::min<size_t>(left, size_t(limit - written));
    }
    ssize_t n = ::write(fd, p, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = saved;
      fail(tmp, "write failed");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(tmp, "fsync failed");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(path, "rename failed");
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void make_parent_directories(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec || !fs::is_directory(parent)) {
    throw IoError(parent.string() + ": cannot create the directory" +
                  (ec ? ": " + ec.message() : std::string()));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) throw IoError(path + ": read failed");
  return out.str();
}

}  // namespace adascale::core

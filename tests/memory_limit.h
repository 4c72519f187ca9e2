#pragma once
/// Memory bounds tested without timing: the code under test runs in a
/// forked child whose address space may grow only a little past what it
/// already has (setrlimit RLIMIT_AS), so an unbounded read or allocation
/// fails with std::bad_alloc there instead of taking gigabytes.
///
/// The child has one thread: code that needs a thread pool (TBB, LibTorch's
/// intra-op pool) must not run in it.

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <new>
#include <string>

namespace adascale::testing {

/// What the child did.
struct LimitedRun {
  /// The body's exit code, kBadAlloc / kOtherException when it threw, or
  /// 128 + signal when it died.
  int status = -1;
  std::string message;  ///< what() of the exception it threw, if any
};

/// Exit code of a child whose body threw std::bad_alloc.
inline constexpr int kBadAlloc = 101;
/// Exit code of a child whose body threw another exception.
inline constexpr int kOtherException = 102;

/// Current virtual size of this process in bytes.
inline size_t current_address_space() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0;
  statm >> pages;
  return pages * size_t(::sysconf(_SC_PAGESIZE));
}

/// Runs `body` in a child limited to its current address space plus
/// `headroom` bytes. `body` returns the exit code it wants seen; an
/// exception's message comes back in `message`.
inline LimitedRun run_with_address_limit(size_t headroom,
                                         const std::function<int()>& body) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {};
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    const size_t limit = current_address_space() + headroom;
    rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(103);
    int code = 0;
    std::string message;
    try {
      code = body();
    } catch (const std::bad_alloc& e) {
      code = kBadAlloc;
      message = e.what();
    } catch (const std::exception& e) {
      code = kOtherException;
      message = e.what();
    }
    if (!message.empty() &&
        ::write(pipe_fds[1], message.data(), message.size()) < 0) {
      code = 104;
    }
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  LimitedRun run;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) {
    run.message.append(buf, size_t(n));
  }
  ::close(pipe_fds[0]);
  int raw = 0;
  if (::waitpid(pid, &raw, 0) != pid) return run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return run;
}

/// Exit code of a child in which an allocation failed (run_within_memory).
inline constexpr int kRanOutOfMemory = 105;

/// run_with_address_limit(), but the first allocation through operator new
/// that fails ends the child at once with kRanOutOfMemory: code that
/// catches std::bad_alloc and reports a tidy error still fails the test,
/// since asking for gigabytes was the bug (LibTorch's unpickler asked for
/// 25 GB on a 20 KiB archive, and the readers turn any exception from it
/// into a DataError).
inline LimitedRun run_within_memory(size_t headroom,
                                    const std::function<int()>& body) {
  return run_with_address_limit(headroom, [&] {
    std::set_new_handler([] { ::_exit(kRanOutOfMemory); });
    return body();
  });
}

}  // namespace adascale::testing

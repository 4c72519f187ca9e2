#include "apps/demo/load_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "harness/load_generator.h"
#include "harness/load_trace.h"

extern char** environ;

namespace adascale::demo {

LoadProcess::LoadProcess(const std::string& exe,
                         const std::string& trace_path) {
  // Parse here first, so a bad trace is the parent's one-line error.
  harness::LoadTrace::from_file(trace_path);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw IoError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  std::vector<std::string> args = {exe, "--load-process", trace_path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int rc =
      posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    throw IoError("cannot start the load process " + exe + ": " +
                  std::strerror(rc));
  }
  fd_ = fds[1];
}

LoadProcess::~LoadProcess() {
  if (fd_ >= 0) close(fd_);
  if (pid_ > 0) {
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void LoadProcess::send(char command) {
  if (write(fd_, &command, 1) != 1) {
    throw IoError(std::string("the load process is gone: ") +
                  std::strerror(errno));
  }
}

void LoadProcess::follow() {
  send('f');
}
void LoadProcess::idle() {
  send('i');
}

int run_load_process(const std::string& trace_path) {
  // Die with the parent even if it is killed without closing the pipe.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 0;
  harness::LoadTrace trace = harness::LoadTrace::from_file(trace_path);
  harness::LoadGenerator generator;
  char command = 0;
  while (read(STDIN_FILENO, &command, 1) == 1) {
    if (command == 'f') {
      generator.follow(trace);
    } else if (command == 'i') {
      generator.stop();
      generator.set_target({});
    }
  }
  generator.stop();
  return 0;
}

}  // namespace adascale::demo

#pragma once
/// A child process spoken to line by line over its stdin and stdout: how a
/// benchmark interleaves its Python counterpart's rounds with its own, so
/// that a drift of the machine's speed falls on both sides alike instead
/// of on whichever side ran in the slower minutes.

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "core/error.h"

namespace adascale::bench {

class Coprocess {
 public:
  /// Starts `/bin/sh -c command`; its stderr stays the benchmark's.
  explicit Coprocess(const std::string& command) : command_(command) {
    signal(SIGPIPE, SIG_IGN);  // a child that died is an IoError in send()
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0) throw IoError("pipe: " + command);
    if (pipe2(from_child, O_CLOEXEC) != 0) {
      close(to_child[0]);
      close(to_child[1]);
      throw IoError("pipe: " + command);
    }
    pid_ = fork();
    if (pid_ < 0) throw IoError("cannot start: " + command);
    if (pid_ == 0) {
      dup2(to_child[0], STDIN_FILENO);
      dup2(from_child[1], STDOUT_FILENO);
      execl("/bin/sh", "sh", "-c", command.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    in_ = fdopen(to_child[1], "w");
    out_ = fdopen(from_child[0], "r");
    if (in_ == nullptr || out_ == nullptr) throw IoError("fdopen: " + command);
  }

  Coprocess(const Coprocess&) = delete;
  Coprocess& operator=(const Coprocess&) = delete;

  /// Closes its stdin and waits for it (kills it if it is still writing).
  ~Coprocess() {
    if (in_ != nullptr) fclose(in_);
    if (out_ != nullptr) fclose(out_);
    if (pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  /// Sends one line (a newline is added).
  void send(const std::string& line) {
    if (fputs((line + "\n").c_str(), in_) < 0 || fflush(in_) != 0) {
      throw IoError(command_ + ": cannot write to it (it has exited)");
    }
  }

  /// The next line it prints, without the newline; IoError when it exits
  /// first.
  std::string receive() {
    std::string line;
    for (int c; (c = fgetc(out_)) != EOF;) {
      if (c == '\n') return line;
      line.push_back(char(c));
    }
    throw IoError(command_ +
                  ": exited before answering (see its errors above)");
  }

  /// Closes its stdin and returns its exit status (-1 when killed).
  int finish() {
    fclose(in_);
    in_ = nullptr;
    int status = 0;
    if (waitpid(pid_, &status, 0) < 0) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  std::string command_;
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

}  // namespace adascale::bench

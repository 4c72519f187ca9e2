#pragma once
/// The demo's background load, in a child process: the demo starts its own
/// binary again with `--load-process TRACE`, and that child runs a
/// harness::LoadGenerator. In a separate process the load counts as
/// another program's in /proc/stat, which is what the resource monitor
/// measures (it leaves the demo's own CPU time out of the load index).
///
/// The parent steers the child through its stdin, one byte per command:
/// 'f' follows the trace from its start, 'i' idles; end of input (the
/// parent closed the pipe or died) ends the child.

#include <sys/types.h>

#include <string>

namespace adascale::demo {

class LoadProcess {
 public:
  /// Starts `exe --load-process trace_path`. Throws IoError when it cannot.
  LoadProcess(const std::string& exe, const std::string& trace_path);
  /// Closes the pipe and waits for the child to end.
  ~LoadProcess();
  LoadProcess(const LoadProcess&) = delete;
  LoadProcess& operator=(const LoadProcess&) = delete;

  /// Restarts the trace from t = 0.
  void follow();
  /// No load until the next follow().
  void idle();

 private:
  void send(char command);
  pid_t pid_ = -1;
  int fd_ = -1;
};

/// The child's main(): follows `trace_path` on command until stdin ends.
/// Returns the exit status.
int run_load_process(const std::string& trace_path);

}  // namespace adascale::demo

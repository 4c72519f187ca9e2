#pragma once
/// A run directory (DESIGN §3.6): `runs/<name>/` with the resolved
/// `config.yaml`, `checkpoints/`, `log.txt`, and the metrics and tables
/// files that later stages write.

#include <string>

namespace adascale::core {

struct RunConfig;

/// An opened run directory. Opening it writes the resolved config and routes
/// the log to its `log.txt` as well as stderr.
class RunDirectory {
 public:
  /// Creates `dir` for a new run; refuses a directory that already holds a
  /// run unless `resume` (then its resolved config must match).
  /// Throws IoError / ConfigError.
  static RunDirectory open(const std::string& dir, const RunConfig& config,
                           bool resume);
  ~RunDirectory();
  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  RunDirectory(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const;  ///< path_/name
  std::string config_path() const { return file("config.yaml"); }
  std::string checkpoints_dir() const { return file("checkpoints"); }
  std::string log_path() const { return file("log.txt"); }

 private:
  explicit RunDirectory(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool owns_log_ = true;
};

}  // namespace adascale::core

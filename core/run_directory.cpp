#include "core/run_directory.h"

#include <filesystem>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/logging.h"
#include "core/run_config.h"

namespace adascale::core {
namespace fs = std::filesystem;

RunDirectory RunDirectory::open(const std::string& dir, const RunConfig& config,
                                bool resume) {
  RunDirectory run(dir);
  std::string resolved = to_yaml(config);
  std::error_code ec;
  bool exists = fs::exists(run.config_path(), ec);
  if (exists && !resume) {
    throw IoError(dir +
                  ": already holds a run (config.yaml); pass --resume "
                  "to continue it or choose another --run");
  }
  if (exists && resume) {
    // Compared by meaning: a config.yaml written before the schema gained a
    // key reads back with that key's default, so a run started by an older
    // build still resumes, while any value that differs is refused.
    std::string previous = read_file(run.config_path());
    if (previous != resolved &&
        to_yaml(load_run_config(run.config_path(), {})) != resolved) {
      throw ConfigError(run.config_path() +
                        ": the resumed run was started with a different "
                        "config; resume with the same config and --set values");
    }
  }
  fs::create_directories(run.checkpoints_dir(), ec);
  if (ec) throw IoError(dir + ": cannot create run directory: " + ec.message());
  if (!exists) write_file_atomic(run.config_path(), resolved);
  log::add_file_sink(run.log_path());
  log::info("run directory {}", dir);
  return run;
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : path_(std::move(other.path_)), owns_log_(other.owns_log_) {
  other.owns_log_ = false;
}

RunDirectory::~RunDirectory() {
  if (owns_log_) log::remove_file_sinks();
}

std::string RunDirectory::file(const std::string& name) const {
  return (fs::path(path_) / name).string();
}

}  // namespace adascale::core

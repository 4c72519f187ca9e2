#include "apps/adascale/command.h"

#include <fmt/format.h>

#include "core/execution.h"
#include "core/logging.h"

namespace adascale::app {

void add_run_options(CLI::App* cmd, std::string& run,
                     std::vector<std::string>& sets, bool& json,
                     const std::string& run_help) {
  cmd->add_option("--run", run, run_help)->required();
  cli::add_set_option(cmd, sets,
                      "override a value of the run's config.yaml (threads, "
                      "log_level, ...)");
  cli::add_json_flag(cmd, json);
  cli::add_refused_option(
      cmd, "--config",
      fmt::format("{}: --config does not apply: it reads the run's own "
                  "config.yaml; change its values with --set key.path=value",
                  cmd->get_name()));
}

core::RunConfig load_config(const CommonOptions& options) {
  core::RunConfig config = core::load_run_config(options.config, options.sets);
  log::set_level(log::parse_level(config.log_level));
  core::setup_execution(config.threads, config.device,
                        static_cast<uint64_t>(config.seed));
  return config;
}

}  // namespace adascale::app

#include "apps/adascale/command.h"

#include "core/execution.h"
#include "core/logging.h"

namespace adascale::app {

void add_common_options(CLI::App* cmd, CommonOptions& options, bool with_json) {
  cmd->add_option("--config", options.config, "YAML config file")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", options.sets,
                  "override a config value, e.g. --set loader.batch_size=64 "
                  "(repeatable)")
      ->allow_extra_args(false);
  if (with_json) {
    cmd->add_flag("--json", options.json,
                  "print exactly one JSON object on stdout");
  }
}

core::RunConfig load_config(const CommonOptions& options) {
  core::RunConfig config = core::load_run_config(options.config, options.sets);
  log::set_level(log::parse_level(config.log_level));
  core::setup_execution(config.threads, config.device,
                        static_cast<uint64_t>(config.seed));
  return config;
}

}  // namespace adascale::app

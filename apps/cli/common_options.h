#pragma once
/// The command-line convention of every AdaScale binary (docs/cli.md):
/// `--config FILE`, repeatable `--set key.path=value` relative to the root
/// of that file, `--json` where a command reports figures, and old option
/// names kept only to say what replaced them.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace adascale::cli {

/// Options common to the commands that read a config.
struct CommonOptions {
  std::optional<std::string> config;  ///< --config FILE
  std::vector<std::string> sets;      ///< --set a.b=value, in order
  bool json = false;                  ///< --json: one JSON object on stdout
};

/// Adds the repeatable `--set` to `cmd`; `help` says what the keys are
/// relative to.
inline void add_set_option(CLI::App* cmd, std::vector<std::string>& sets,
                           const std::string& help) {
  cmd->add_option("--set", sets, help + " (repeatable)")
      ->allow_extra_args(false);
}

/// Adds `--json` to `cmd`.
inline void add_json_flag(CLI::App* cmd, bool& json) {
  cmd->add_flag("--json", json, "print exactly one JSON object on stdout");
}

/// Adds --config, --set and (when `with_json`) --json to `cmd`.
inline void add_common_options(CLI::App* cmd, CommonOptions& options,
                               bool with_json) {
  cmd->add_option("--config", options.config, "YAML config file")
      ->check(CLI::ExistingFile);
  add_set_option(cmd, options.sets,
                 "override a config value, e.g. --set loader.batch_size=64");
  if (with_json) add_json_flag(cmd, options.json);
}

/// Keeps `name` as a hidden option, with or without a value, whose use
/// fails at once with UsageError(`why`): an option that does not apply to
/// this command, said with the reason rather than as an unknown option.
inline void add_refused_option(CLI::App* cmd, const std::string& name,
                               const std::string& why) {
  cmd->add_option(
         name, [why](const CLI::results_t&) -> bool { throw UsageError(why); },
         "")
      ->expected(0, 1)
      ->group("")
      ->trigger_on_parse();
}

/// Keeps an old option name that scripts may still use as a hidden option
/// whose use fails with one line naming its replacement:
/// add_renamed_option(cmd, "--budget-ms", "--set runtime.policy.budget_ms={}")
/// turns `--budget-ms 10` into "--budget-ms 10 is now --set
/// runtime.policy.budget_ms=10". A "{}" in `replacement` is the value given,
/// else `placeholder`.
inline void add_renamed_option(CLI::App* cmd, const std::string& name,
                               const std::string& replacement,
                               const std::string& placeholder = "VALUE") {
  cmd->add_option(
         name,
         [name, replacement, placeholder](const CLI::results_t& given) -> bool {
           const std::string value = given.empty() ? "" : given.front();
           std::string now = replacement;
           const size_t slot = now.find("{}");
           if (slot != std::string::npos) {
             now.replace(slot, 2, value.empty() ? placeholder : value);
           }
           throw UsageError(fmt::format("{}{} is now {}", name,
                                        value.empty() ? "" : " " + value, now));
         },
         "")
      ->expected(0, 1)
      ->group("")
      ->trigger_on_parse();
}

}  // namespace adascale::cli

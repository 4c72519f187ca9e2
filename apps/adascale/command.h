#pragma once
/// Shared plumbing of the `adascale` subcommands: the options every command
/// takes (--config, --set, --json) and turning them into a RunConfig with
/// logging and execution settings applied.

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "core/run_config.h"

namespace adascale::app {

/// Options common to every subcommand.
struct CommonOptions {
  std::optional<std::string> config;  ///< --config FILE
  std::vector<std::string> sets;      ///< --set a.b=value, in order
  bool json = false;                  ///< --json: one JSON object on stdout
};

/// Adds --config, --set and (when `with_json`) --json to `cmd`.
void add_common_options(CLI::App* cmd, CommonOptions& options, bool with_json);

/// Loads the config, applies log level, threads, device and seed.
core::RunConfig load_config(const CommonOptions& options);

/// Registers `adascale data`.
void register_data_command(CLI::App& app);

/// Registers `adascale inspect`.
void register_inspect_command(CLI::App& app);

/// Registers `adascale train`.
void register_train_command(CLI::App& app);

/// Registers `adascale eval`.
void register_eval_command(CLI::App& app);

/// Registers `adascale probe`.
void register_probe_command(CLI::App& app);

/// Registers `adascale bench` (bench train).
void register_bench_command(CLI::App& app);

/// Registers `adascale calibrate`.
void register_calibrate_command(CLI::App& app);

/// Registers `adascale tables`.
void register_tables_command(CLI::App& app);

/// Registers `adascale search`.
void register_search_command(CLI::App& app);

/// Registers `adascale export`.
void register_export_command(CLI::App& app);

}  // namespace adascale::app

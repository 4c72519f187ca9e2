#pragma once
/// Shared plumbing of the `adascale` subcommands: the options every command
/// takes (apps/cli/common_options.h: --config, --set, --json), those of the
/// commands that open a finished run, and turning them into a RunConfig with
/// logging and execution settings applied.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "apps/cli/common_options.h"
#include "core/run_config.h"

namespace adascale::app {

using cli::add_common_options;
using cli::CommonOptions;

/// Adds the options of a command that opens a finished run: `--run DIR`
/// (required; `run_help` describes it), `--set` over the run's resolved
/// config.yaml and `--json`. `--config` is refused with the reason: the
/// run's own config is what such a command reads.
void add_run_options(CLI::App* cmd, std::string& run,
                     std::vector<std::string>& sets, bool& json,
                     const std::string& run_help = "run directory");

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

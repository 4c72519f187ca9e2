// The `adascale` command line: one binary, one subcommand per job. Every
// failure ends here as one line on stderr and a non-zero exit.

#include <c10/util/Exception.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "apps/adascale/command.h"
#include "core/error.h"
#include "core/version.h"

namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"AdaScale: elastic, context-aware DNN scaling", "adascale"};
  app.set_version_flag("--version",
                       std::string("adascale ") + adascale::kVersion);
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "adascale: error: " + first_line(e.what()) + " (see --help)\n";
  });
  adascale::app::register_data_command(app);
  adascale::app::register_inspect_command(app);
  adascale::app::register_train_command(app);
  adascale::app::register_eval_command(app);
  adascale::app::register_probe_command(app);
  adascale::app::register_bench_command(app);
  adascale::app::register_calibrate_command(app);
  adascale::app::register_tables_command(app);
  adascale::app::register_search_command(app);
  adascale::app::register_export_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const adascale::Interrupted& e) {
    fmt::print(stderr, "adascale: {}\n", first_line(e.what()));
    return 130;
  } catch (const adascale::Error& e) {
    fmt::print(stderr, "adascale: error: {}\n", first_line(e.what()));
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "adascale: LibTorch error: {}\n",
               first_line(e.what_without_backtrace()));
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "adascale: internal error: {}\n", first_line(e.what()));
    return 3;
  }
  return 0;
}

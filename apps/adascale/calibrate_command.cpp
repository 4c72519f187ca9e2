// `adascale calibrate --out configs/devices/<name>.yaml`: measures this
// machine (search/calibration.h) and writes its device profile; what cannot
// be measured comes from a base profile (--base).

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/adascale/command.h"
#include "core/atomic_file.h"
#include "core/device_profile.h"
#include "core/error.h"
#include "search/calibration.h"

namespace adascale::app {
namespace {

namespace fs = std::filesystem;

struct CalibrateOptions {
  CommonOptions common;
  std::string out;
  std::string base = "configs/devices/generic_x86.yaml";
  std::string name;  // empty: the file stem of --out
  bool quick = false;
};

bool is_identifier(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string bytes_text(int64_t bytes) {
  if (bytes >= (int64_t(1) << 20)) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} KiB", bytes >> 10);
}

nlohmann::json processor_json(const core::ProcessorProfile& p) {
  return {{"cores", p.cores},
          {"max_clock_mhz", p.max_clock_mhz},
          {"min_clock_mhz", p.min_clock_mhz},
          {"peak_gmacs", p.peak_gmacs},
          {"active_power_w", p.active_power_w},
          {"idle_power_w", p.idle_power_w}};
}

nlohmann::json profile_json(const core::DeviceProfile& p) {
  nlohmann::json j = {{"name", p.name},
                      {"description", p.description},
                      {"source", p.source},
                      {"cpu", processor_json(p.cpu)}};
  if (p.has_gpu()) j["gpu"] = processor_json(p.gpu);
  const core::MemoryProfile& m = p.memory;
  j["memory"] = {{"size_mib", m.size_mib},
                 {"clock_mhz", m.clock_mhz},
                 {"bandwidth_gbs", m.bandwidth_gbs},
                 {"latency_ns", m.latency_ns},
                 {"active_power_w", m.active_power_w},
                 {"caches", nlohmann::json::array()}};
  for (const auto& c : m.caches) {
    j["memory"]["caches"].push_back({{"name", c.name},
                                     {"size_kib", c.size_kib},
                                     {"latency_ns", c.latency_ns},
                                     {"bandwidth_gbs", c.bandwidth_gbs}});
  }
  return j;
}

// Comment lines above the YAML: how it was made and the whole latency
// curve, which the profile keeps only at the cache sizes.
std::string yaml_header(const search::Calibration& c, bool quick) {
  std::string h = fmt::format(
      "# Written by `adascale calibrate{}` in {:.1f} s, GEMM and copy on {} "
      "threads.\n# Pointer-chase latency (working set: ns per load):\n",
      quick ? " --quick" : "", c.seconds, c.threads);
  std::string line = "#";
  for (const auto& point : c.latency_curve) {
    std::string item = fmt::format(
        " {}: {:.1f}", bytes_text(point.working_set_bytes), point.latency_ns);
    if (line.size() + item.size() + 1 > 78) {
      h += line + "\n";
      line = "#";
    }
    line += item + (&point == &c.latency_curve.back() ? "" : ",");
  }
  return h + line + "\n";
}

void print_summary(const search::Calibration& c, const std::string& out) {
  const core::DeviceProfile& p = c.profile;
  fmt::print("device profile {} ({}) written to {}\n", p.name, p.description,
             out);
  fmt::print(
      "cpu     {} cores, {:.0f}-{:.0f} MHz, {:.1f} GMAC/s fp32 "
      "({} threads), {:.1f} W busy, {:.1f} W idle\n",
      p.cpu.cores, p.cpu.min_clock_mhz, p.cpu.max_clock_mhz, p.cpu.peak_gmacs,
      c.threads, p.cpu.active_power_w, p.cpu.idle_power_w);
  if (p.has_gpu()) {
    fmt::print("gpu     {:.1f} GMAC/s fp32\n", p.gpu.peak_gmacs);
  }
  fmt::print(
      "memory  {:.0f} MiB, {:.1f} GB/s copy (read + write), "
      "{:.1f} ns\n",
      p.memory.size_mib, p.memory.bandwidth_gbs, p.memory.latency_ns);
  for (const auto& cache : p.memory.caches) {
    fmt::print("{:<7} {:>6.0f} KiB, {:6.2f} ns, {:6.1f} GB/s read\n",
               cache.name, cache.size_kib, cache.latency_ns,
               cache.bandwidth_gbs);
  }
  fmt::print("latency curve (working set: ns per dependent load)\n");
  for (const auto& point : c.latency_curve) {
    fmt::print("  {:>8} {:8.2f}\n", bytes_text(point.working_set_bytes),
               point.latency_ns);
  }
  fmt::print("source: {}\n", p.source);
  fmt::print("took {:.1f} s\n", c.seconds);
}

void run_calibrate(const CalibrateOptions& opt) {
  load_config(opt.common);  // log level and threads

  // Every input is checked before minutes of measuring.
  const fs::path out(opt.out);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : ".";
  if (!fs::is_directory(dir)) {
    throw IoError("calibrate: --out " + opt.out + ": directory " +
                  dir.string() + " does not exist");
  }
  if (fs::is_directory(out)) {
    throw IoError("calibrate: --out " + opt.out +
                  " is a directory; expected a .yaml file path");
  }
  const std::string name = opt.name.empty() ? out.stem().string() : opt.name;
  if (!is_identifier(name)) {
    throw UsageError(fmt::format(
        "calibrate: profile name '{}'{} must be lower-case letters, digits "
        "and '_'{}",
        name, opt.name.empty() ? " (the file name of --out)" : "",
        opt.name.empty() ? "; pass --name" : ""));
  }
  if (!fs::is_regular_file(opt.base)) {
    throw IoError("calibrate: base profile " + opt.base +
                  " not found (pass --base FILE, or run from the repository "
                  "root)");
  }
  const core::DeviceProfile base = core::load_device_profile(opt.base);

  search::CalibrationOptions options;
  options.name = name;
  options.base_label = opt.base;
  options.quick = opt.quick;
  search::Calibration result = search::calibrate_device(options, base);
  core::write_file_atomic(opt.out,
                          yaml_header(result, opt.quick) +
                              core::device_profile_yaml(result.profile));

  if (!opt.common.json) {
    print_summary(result, opt.out);
    return;
  }
  nlohmann::json j = {{"out", opt.out},
                      {"quick", opt.quick},
                      {"threads", result.threads},
                      {"seconds", result.seconds},
                      {"measured", result.measured},
                      {"from_base", result.from_base},
                      {"base", opt.base},
                      {"profile", profile_json(result.profile)},
                      {"latency_curve", nlohmann::json::array()}};
  for (const auto& point : result.latency_curve) {
    j["latency_curve"].push_back(
        {{"working_set_bytes", point.working_set_bytes},
         {"latency_ns", point.latency_ns}});
  }
  fmt::print("{}\n", j.dump());
}

}  // namespace

void register_calibrate_command(CLI::App& app) {
  auto options = std::make_shared<CalibrateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate",
      "Measure this machine (GEMM peak, bandwidth, cache latencies) and "
      "write its device profile");
  add_common_options(cmd, options->common, true);
  cmd->add_option("--out", options->out,
                  "profile to write, e.g. configs/devices/<name>.yaml")
      ->required();
  cmd->add_option("--base", options->base,
                  "profile supplying what cannot be measured (power, memory "
                  "clock)")
      ->capture_default_str();
  cmd->add_option("--name", options->name,
                  "profile name (default: the file stem of --out)");
  cmd->add_flag("--quick", options->quick,
                "small sizes and few repeats (seconds; figures are rough)");
  cmd->callback([options] { run_calibrate(*options); });
}

}  // namespace adascale::app

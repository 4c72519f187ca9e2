#include "search/profile_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace adascale::search {
namespace {

std::string scaled(double value, const std::array<const char*, 5>& units,
                   double base) {
  int unit = 0;
  while (std::abs(value) >= base && unit + 1 < static_cast<int>(units.size())) {
    value /= base;
    ++unit;
  }
  if (unit == 0) return fmt::format("{:.0f}{}", value, units[0]);
  return fmt::format("{:.2f}{}", value, units[unit]);
}

std::string count_text(int64_t n) {
  return scaled(static_cast<double>(n), {"", "K", "M", "G", "T"}, 1000.0);
}

std::string bytes_text(int64_t n) {
  return scaled(static_cast<double>(n), {" B", " KiB", " MiB", " GiB", " TiB"},
                1024.0);
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("{}", fmt::join(shape, "x"));
}

}  // namespace

std::string format_profile(const ModelProfile& p, bool per_layer) {
  std::string out;
  if (per_layer) {
    const std::array<std::string, 6> header = {"layer",  "kind", "output",
                                               "params", "MACs", "MA"};
    std::vector<std::array<std::string, 6>> rows;
    rows.reserve(p.layers.size());
    for (const auto& l : p.layers) {
      rows.push_back({l.name, l.kind, shape_text(l.output_shape),
                      count_text(l.params), count_text(l.macs),
                      bytes_text(l.memory_access_bytes)});
    }
    std::array<size_t, 6> width{};
    for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
    for (const auto& r : rows) {
      for (size_t c = 0; c < r.size(); ++c) {
        width[c] = std::max(width[c], r[c].size());
      }
    }
    auto line = [&](const std::array<std::string, 6>& r) {
      // Text columns left-aligned, numbers right-aligned.
      out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}\n",
                         r[0], width[0], r[1], width[1], r[2], width[2], r[3],
                         width[3], r[4], width[4], r[5], width[5]);
    };
    line(header);
    size_t total_width = 2 * (header.size() - 1);
    for (size_t w : width) total_width += w;
    out += std::string(total_width, '-') + "\n";
    for (const auto& r : rows) line(r);
    out += "\n";
  }
  auto total = [&](const char* label, const std::string& human, int64_t exact) {
    out += fmt::format("{:<24}{:>12}  ({})\n", label, human, exact);
  };
  out += fmt::format("{:<24}{:>12}\n", "input", shape_text(p.input_shape));
  out += fmt::format("{:<24}{:>12}\n", "output", shape_text(p.output_shape));
  out += fmt::format("{:<24}{:>12}\n", "layers", p.layers.size());
  total("params", count_text(p.params), p.params);
  total("MACs", count_text(p.macs), p.macs);
  total("FLOPs", count_text(p.flops), p.flops);
  total("storage fp32", bytes_text(p.storage_fp32_bytes), p.storage_fp32_bytes);
  total("storage int8", bytes_text(p.storage_int8_bytes), p.storage_int8_bytes);
  total("activations", bytes_text(p.activation_bytes), p.activation_bytes);
  total("peak activations", bytes_text(p.peak_activation_bytes),
        p.peak_activation_bytes);
  total("memory accesses (eq. 4)", bytes_text(p.memory_access_bytes),
        p.memory_access_bytes);
  if (!p.unmodelled_ops.empty()) {
    out += fmt::format("no cost model (0 MACs): {}\n",
                       fmt::join(p.unmodelled_ops, ", "));
  }
  return out;
}

nlohmann::json to_json(const ModelProfile& profile) {
  nlohmann::json j;
  to_json(j, profile);
  return j;
}

void to_json(nlohmann::json& j, const LayerProfile& l) {
  j = nlohmann::json{{"name", l.name},
                     {"kind", l.kind},
                     {"op", l.op},
                     {"input_shape", l.input_shape},
                     {"output_shape", l.output_shape},
                     {"params", l.params},
                     {"macs", l.macs},
                     {"flops", l.flops},
                     {"weight_bytes", l.weight_bytes},
                     {"activation_bytes", l.activation_bytes},
                     {"memory_access_bytes", l.memory_access_bytes}};
}

void from_json(const nlohmann::json& j, LayerProfile& l) {
  j.at("name").get_to(l.name);
  j.at("kind").get_to(l.kind);
  j.at("op").get_to(l.op);
  j.at("input_shape").get_to(l.input_shape);
  j.at("output_shape").get_to(l.output_shape);
  j.at("params").get_to(l.params);
  j.at("macs").get_to(l.macs);
  j.at("flops").get_to(l.flops);
  j.at("weight_bytes").get_to(l.weight_bytes);
  j.at("activation_bytes").get_to(l.activation_bytes);
  j.at("memory_access_bytes").get_to(l.memory_access_bytes);
}

nlohmann::json totals_json(const ModelProfile& p) {
  return {{"params", p.params},
          {"macs", p.macs},
          {"flops", p.flops},
          {"storage_fp32_bytes", p.storage_fp32_bytes},
          {"storage_int8_bytes", p.storage_int8_bytes},
          {"activation_bytes", p.activation_bytes},
          {"peak_activation_bytes", p.peak_activation_bytes},
          {"memory_access_bytes", p.memory_access_bytes}};
}

void to_json(nlohmann::json& j, const ModelProfile& p) {
  j = totals_json(p);
  j["input_shape"] = p.input_shape;
  j["output_shape"] = p.output_shape;
  j["buffer_elements"] = p.buffer_elements;
  j["unmodelled_ops"] = p.unmodelled_ops;
  j["layers"] = p.layers;
}

void from_json(const nlohmann::json& j, ModelProfile& p) {
  j.at("input_shape").get_to(p.input_shape);
  j.at("output_shape").get_to(p.output_shape);
  j.at("params").get_to(p.params);
  j.at("buffer_elements").get_to(p.buffer_elements);
  j.at("macs").get_to(p.macs);
  j.at("flops").get_to(p.flops);
  j.at("storage_fp32_bytes").get_to(p.storage_fp32_bytes);
  j.at("storage_int8_bytes").get_to(p.storage_int8_bytes);
  j.at("activation_bytes").get_to(p.activation_bytes);
  j.at("peak_activation_bytes").get_to(p.peak_activation_bytes);
  j.at("memory_access_bytes").get_to(p.memory_access_bytes);
  j.at("unmodelled_ops").get_to(p.unmodelled_ops);
  j.at("layers").get_to(p.layers);
}

}  // namespace adascale::search

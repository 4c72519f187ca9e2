#include "runtime/variant_rows.h"

#include <fmt/format.h>

#include <cmath>
#include <unordered_map>

#include "core/error.h"

namespace adascale::runtime {
namespace {

// The device whose model was fitted on measurements, else the first.
std::string default_device(const search::PerformanceTables& tables, int batch,
                           const std::string& source) {
  for (const auto& m : tables.models) {
    if (m.batch == batch && m.model.fitted_on > 0) return m.device;
  }
  for (const auto& p : tables.predictive) {
    if (p.batch == batch) return p.device;
  }
  throw DataError(fmt::format("{}: no predictions at batch {}", source, batch));
}

}  // namespace

VariantRows variant_rows(const search::PerformanceTables& tables,
                         const core::VariantSpace& space,
                         const std::vector<core::Variant>& variants,
                         const std::string& device, int batch,
                         const std::string& source) {
  VariantRows out;
  out.batch = batch;
  out.device = device.empty() ? default_device(tables, batch, source) : device;
  const search::LatencyModelEntry* model = tables.model(out.device, batch);
  if (!model) {
    throw DataError(
        fmt::format("{}: no latency model for device '{}' at batch {}", source,
                    out.device, batch));
  }
  out.model = model->model;

  std::unordered_map<uint64_t, const search::IndexEntry*> index;
  for (const auto& e : tables.index) index.emplace(e.key, &e);
  std::unordered_map<uint64_t, const search::PredictiveEntry*> predicted;
  for (const auto& p : tables.predictive) {
    if (p.device == out.device && p.batch == batch)
      predicted.emplace(p.key, &p);
  }
  for (const core::Variant& v : variants) {
    const uint64_t key = space.pack(v);
    auto i = index.find(key);
    auto p = predicted.find(key);
    if (i == index.end() || p == predicted.end()) {
      throw DataError(fmt::format(
          "{}: variant {} has no {} row for '{}'", source, space.to_string(v),
          i == index.end() ? "index" : "predictive", out.device));
    }
    if (!std::isfinite(i->second->validation_top1)) {
      throw DataError(fmt::format(
          "{}: variant {} has no validation accuracy (run adascale tables)",
          source, space.to_string(v)));
    }
    search::SearchRow row;
    row.key = key;
    row.accuracy = i->second->validation_top1;
    row.latency_ms = p->second->predicted_latency_ms;
    row.energy_mj = p->second->predicted_energy_mj;
    out.rows.push_back(row);
    out.layers.push_back(double(i->second->layers));
  }
  return out;
}

}  // namespace adascale::runtime

#pragma once
/// Intrinsic profiles for people (an aligned table) and for files (JSON).

#include <nlohmann/json.hpp>

#include <string>

#include "search/intrinsic_profiler.h"

namespace adascale::search {

/// An aligned table: with `per_layer`, one row per layer (name, kind, output
/// shape, params, MACs, memory accesses), then the totals; without, the
/// totals only. Counts use SI prefixes (K, M, G), bytes binary ones (KiB,
/// MiB); the totals also give exact integers.
std::string format_profile(const ModelProfile& profile, bool per_layer);

/// The profile as JSON: every total, "unmodelled_ops", and "layers" (one
/// object per layer with every LayerProfile field). Exact integers.
nlohmann::json to_json(const ModelProfile& profile);

/// Only the totals of to_json(): params, MACs, FLOPs, storage (fp32,
/// int8), activations (sum, peak) and memory accesses.
nlohmann::json totals_json(const ModelProfile& profile);

/// nlohmann's conversion hooks (`json j = profile; j.get<ModelProfile>()`);
/// from_json throws nlohmann::json::exception on a missing or mistyped key.
void to_json(nlohmann::json& j, const LayerProfile& layer);
void from_json(const nlohmann::json& j, LayerProfile& layer);
void to_json(nlohmann::json& j, const ModelProfile& profile);
void from_json(const nlohmann::json& j, ModelProfile& profile);

}  // namespace adascale::search

#pragma once
/// Intrinsic profiles of many variants of one elastic net, composed from
/// the profiles of its parts: a variant is the stem, one candidate per
/// stage and an exit head, and each part sees the same input shape in every
/// variant that uses it. So 23 part profiles give the 500 variants of the
/// default net, instead of 500 traces (about 20× faster), with the same
/// layers, counts and names as profiling each variant whole (a test checks).

#include <cstdint>
#include <vector>

#include "core/variant.h"
#include "operators/elastic_net.h"
#include "search/intrinsic_profiler.h"

namespace adascale::search {

/// Appends `part`'s layers to `whole` and adds its counts (parameters,
/// MACs, FLOPs, storage, activations, memory accesses; peak activation is
/// the maximum; unmodelled ops are merged). Parts must not share weights.
void append_profile(ModelProfile& whole, const ModelProfile& part);

/// Profiles of `variants` for inputs of `batch` images at the net's
/// resolution, in the order given.
std::vector<ModelProfile> profile_variants(
    operators::ElasticNet& net, const std::vector<core::Variant>& variants,
    int64_t batch);

}  // namespace adascale::search

#pragma once
/// MACs of every candidate of every stage of an elastic net, each measured
/// on the input it sees on the trunk (candidates of a stage share the input
/// shape), plus its exit head: what a trunk rule trading accuracy for cost
/// needs.

#include <cstdint>
#include <vector>

#include "operators/elastic_net.h"

namespace adascale::search {

/// costs[s][c] = MACs of candidate c of stage s followed by exit head s, for
/// one image at the spec's resolution.
std::vector<std::vector<int64_t>> candidate_macs(operators::ElasticNet& net);

}  // namespace adascale::search

#include "datasets/channel_stats.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <cmath>

namespace adascale::datasets {
namespace {

/// Integer sums of values and squares per channel: exact, so the result
/// does not depend on how TBB splits the work.
struct Sums {
  std::vector<uint64_t> sum, sq;
  explicit Sums(size_t c = 0) : sum(c, 0), sq(c, 0) {}
  void add(const Sums& o) {
    for (size_t c = 0; c < sum.size(); ++c) {
      sum[c] += o.sum[c];
      sq[c] += o.sq[c];
    }
  }
};

}  // namespace

ChannelStats channel_stats(const ImageDataset& data,
                           const std::vector<int64_t>& indices) {
  const auto channels = static_cast<size_t>(data.channels);
  const int64_t n =
      indices.empty() ? data.size() : static_cast<int64_t>(indices.size());
  const int64_t plane = static_cast<int64_t>(data.height) * data.width;
  Sums total = tbb::parallel_reduce(
      tbb::blocked_range<int64_t>(0, n), Sums(channels),
      [&](const tbb::blocked_range<int64_t>& r, Sums acc) {
        for (int64_t j = r.begin(); j < r.end(); ++j) {
          int64_t i = indices.empty() ? j : indices[static_cast<size_t>(j)];
          thread_local std::vector<uint8_t> scratch;
          if (!data.in_memory()) {
            scratch.resize(static_cast<size_t>(data.image_bytes()));
          }
          const uint8_t* img = data.read_image(i, scratch.data());
          for (size_t c = 0; c < channels; ++c) {
            uint64_t s = 0, q = 0;
            const uint8_t* p = img + static_cast<int64_t>(c) * plane;
            for (int64_t k = 0; k < plane; ++k) {
              s += p[k];
              q += static_cast<uint64_t>(p[k]) * p[k];
            }
            acc.sum[c] += s;
            acc.sq[c] += q;
          }
        }
        return acc;
      },
      [](Sums a, const Sums& b) {
        a.add(b);
        return a;
      });
  ChannelStats out;
  const double count = static_cast<double>(n) * static_cast<double>(plane);
  for (size_t c = 0; c < channels; ++c) {
    double mean = count > 0 ? total.sum[c] / count : 0.0;
    double var = count > 0 ? total.sq[c] / count - mean * mean : 0.0;
    out.mean.push_back(mean);
    out.std.push_back(std::sqrt(std::max(var, 0.0)));
  }
  return out;
}

}  // namespace adascale::datasets

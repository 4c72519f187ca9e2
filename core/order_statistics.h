#pragma once
/// The one definition of medians and quantiles in AdaScale: every latency
/// figure the project reports (profilers, engine timing, benchmarks, the
/// demo) goes through these functions, so "median" and "p90" mean the same
/// thing everywhere.
///
/// Definition: linear interpolation between the closest ranks with Weibull
/// plotting positions (Hyndman & Fan type 6; numpy's
/// `quantile(x, q, method="weibull")`). For n samples sorted as
/// x[1] ≤ … ≤ x[n], the q-quantile sits at rank h = (n + 1)·q, clamped to
/// [1, n], and is x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). Hence:
/// - the median (q = 0.5) is the middle value of an odd count and the mean
///   of the two middle values of an even count: the same as numpy.median and
///   Python's statistics.median;
/// - q = 0 gives the minimum and q = 1 the maximum;
/// - a tail quantile of a few samples is their maximum (the p90 of 5
///   samples is the largest), never a value extrapolated past it.
/// Input may be in any order. A NaN sample makes the result NaN (as numpy
/// does); an empty input or q outside [0, 1] is an InternalError: callers
/// decide what "no samples" means for them.

#include <vector>

namespace adascale::core {

/// The q-quantile (q in [0, 1]) of `samples`, as defined above.
double quantile(std::vector<double> samples, double q);

/// quantile(samples, 0.5).
double median(std::vector<double> samples);

/// The quantiles for every q in `qs`, sorting `samples` once.
std::vector<double> quantiles(std::vector<double> samples,
                              const std::vector<double>& qs);

/// The q-quantile of samples already sorted ascending (no NaN); for a
/// caller that keeps them sorted and asks many times.
double sorted_quantile(const std::vector<double>& sorted, double q);

}  // namespace adascale::core

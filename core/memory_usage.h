#pragma once
/// Resident memory of this process (Linux `/proc/self/status`), for the
/// per-epoch peak-memory column of a run's metrics and for benchmarks.
/// Cheap enough to call once per epoch; never throws.

#include <cstdint>

namespace adascale::core {

/// Peak resident set size so far (VmHWM) in bytes; 0 when unavailable.
int64_t peak_resident_bytes();

/// Current resident set size (VmRSS) in bytes; 0 when unavailable.
int64_t resident_bytes();

}  // namespace adascale::core

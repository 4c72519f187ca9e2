#pragma once
/// Resident memory of this process (Linux `/proc/self/status`), for the
/// per-epoch peak-memory column of a run's metrics and for benchmarks.
/// Cheap enough to call once per epoch; never throws.

#include <cstdint>

namespace adascale::core {

/// Peak resident set size so far (VmHWM) in bytes, since the process
/// started or the last reset_peak_resident(); 0 when unavailable.
int64_t peak_resident_bytes();

/// Starts the peak over at the current resident size (writes 5 to
/// /proc/self/clear_refs, Linux ≥ 4.0), so a later peak_resident_bytes()
/// covers only what came after: one training stage, say. Returns false
/// (and changes nothing) where that file is not writable.
bool reset_peak_resident();

/// Current resident set size (VmRSS) in bytes; 0 when unavailable.
int64_t resident_bytes();

}  // namespace adascale::core

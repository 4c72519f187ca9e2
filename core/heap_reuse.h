#pragma once
/// Keeps freed tensor memory in the process heap for the next allocation.
///
/// glibc serves every allocation above its mmap threshold (128 KiB, rising
/// at most to 32 MiB) with a fresh mmap and gives it back with munmap on
/// free, and trims the heap top back to the kernel. A training step frees
/// and reallocates the same large activation buffers every time, so each
/// step page-faults them in again, the kernel zeroing every page: on this
/// machine ResNet18 training spent 5 s of every 30 s of CPU in the kernel,
/// and trained 16% faster without it. Raising both thresholds keeps the
/// buffers mapped and reused.
/// The cost: the resident set stays at its peak instead of shrinking.

namespace adascale::core {

/// Applies the setting once per process (later calls do nothing). Returns
/// whether glibc accepted it; elsewhere it is a no-op returning false.
bool reuse_freed_heap_memory();

/// Hands the heap's free pages back to the kernel once (glibc's
/// malloc_trim), for a long-running process after its start-up: what
/// start-up freed (a dataset split decoded and dropped, every block timed
/// at several thread counts) would otherwise stay resident for the
/// process's life under reuse_freed_heap_memory(). Returns whether any
/// memory was released; elsewhere a no-op returning false.
bool release_free_heap_memory();

}  // namespace adascale::core

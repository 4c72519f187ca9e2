#pragma once
/// The calling thread's intra-op thread count, set cheaply enough to change
/// at every inference. at::set_num_threads also resizes LibTorch's
/// pthreadpool, which cost about 0.6 ms a call on the 2-core development VM
/// (more than exit 1's whole inference); with LibTorch's OpenMP backend
/// (Debian's build) the parallel regions of ATen and oneDNN take their team
/// size from the calling thread's OpenMP setting alone, which costs well
/// under a microsecond to change.
///
/// XNNPACK's operators (the engine's xnnpack form) run on LibTorch's
/// pthreadpool instead, whose size is process-wide (at::set_num_threads).
/// A per-thread switch exists for it: with LibTorch's "no pthreadpool"
/// guard on, XNNPACK runs on the calling thread alone. So a count of 1
/// turns the pool off for the calling thread and any other count turns it
/// back on at its process-wide size: exact on 2 cores, and on more cores
/// an XNNPACK block asked for 2 ≤ n < pool size runs on the whole pool.

namespace adascale::runtime {

/// Threads the calling thread's next parallel regions use.
int intra_op_threads();
/// Sets them for the calling thread only (n ≥ 1).
void set_intra_op_threads(int n);
/// Whether the calling thread's XNNPACK operators run on the pthreadpool
/// (false after set_intra_op_threads(1)).
bool pthreadpool_enabled();
/// For graphs of XNNPACK operators: those on n threads (the pool when
/// n > 1, the calling thread alone when n = 1) and every OpenMP region of
/// the calling thread (the ATen operators between them: pooling, concat)
/// on the calling thread alone. With both thread teams live, each spins
/// after its call while the other runs: a block with max-pools between its
/// XNNPACK convolutions took 16 ms at 2 threads against 0.3 ms at 1.
void set_xnnpack_threads(int n);

/// Restores the calling thread's settings above when it goes out of scope:
/// the engine changes them for each variant it runs, and gives them back
/// to the caller as they were.
class ScopedThreadSettings {
 public:
  ScopedThreadSettings();
  ~ScopedThreadSettings();
  ScopedThreadSettings(const ScopedThreadSettings&) = delete;
  ScopedThreadSettings& operator=(const ScopedThreadSettings&) = delete;

 private:
  int threads_;
  bool pool_;
};

}  // namespace adascale::runtime

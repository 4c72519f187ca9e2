#pragma once
/// The calling thread's intra-op thread count, set cheaply enough to change
/// at every inference. at::set_num_threads also resizes LibTorch's
/// pthreadpool, which cost about 0.6 ms a call on the 2-core development VM
/// (more than exit 1's whole inference); with LibTorch's OpenMP backend
/// (Debian's build) the parallel regions of ATen and oneDNN take their team
/// size from the calling thread's OpenMP setting alone, which costs well
/// under a microsecond to change.

namespace adascale::runtime {

/// Threads the calling thread's next parallel regions use.
int intra_op_threads();
/// Sets them for the calling thread only (n ≥ 1).
void set_intra_op_threads(int n);

}  // namespace adascale::runtime

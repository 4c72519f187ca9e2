#include "runtime/intra_op_threads.h"

#include <omp.h>

#if __has_include(<caffe2/utils/threadpool/thread_pool_guard.h>)
#include <caffe2/utils/threadpool/thread_pool_guard.h>
#else
// Debian's libtorch-dev does not ship this header; the class is exported
// by libtorch_cpu (a thread-local flag that LibTorch's pthreadpool_()
// reads before handing XNNPACK its pool). Only its static members are used.
namespace caffe2 {
struct _NoPThreadPoolGuard {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};
}  // namespace caffe2
#endif

namespace adascale::runtime {

int intra_op_threads() {
  return omp_get_max_threads();
}

void set_intra_op_threads(int n) {
  if (n < 1) return;
  if (omp_get_max_threads() != n) omp_set_num_threads(n);
  const bool single = n == 1;
  if (caffe2::_NoPThreadPoolGuard::is_enabled() != single) {
    caffe2::_NoPThreadPoolGuard::set_enabled(single);
  }
}

void set_xnnpack_threads(int n) {
  if (n < 1) return;
  set_intra_op_threads(1);
  if (n > 1) caffe2::_NoPThreadPoolGuard::set_enabled(false);
}

bool pthreadpool_enabled() {
  return !caffe2::_NoPThreadPoolGuard::is_enabled();
}

ScopedThreadSettings::ScopedThreadSettings()
    : threads_(intra_op_threads()), pool_(pthreadpool_enabled()) {}

ScopedThreadSettings::~ScopedThreadSettings() {
  if (omp_get_max_threads() != threads_) omp_set_num_threads(threads_);
  if (pthreadpool_enabled() != pool_) {
    caffe2::_NoPThreadPoolGuard::set_enabled(!pool_);
  }
}

}  // namespace adascale::runtime

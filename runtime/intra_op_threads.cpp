#include "runtime/intra_op_threads.h"

#include <omp.h>

namespace adascale::runtime {

int intra_op_threads() {
  return omp_get_max_threads();
}

void set_intra_op_threads(int n) {
  if (n >= 1 && omp_get_max_threads() != n) omp_set_num_threads(n);
}

}  // namespace adascale::runtime

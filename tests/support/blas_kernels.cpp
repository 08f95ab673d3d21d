// Before gtest's main: the test process gets the OpenBLAS kernels its CPU allows (runtime/runtime.h), so a CPU
// OpenBLAS does not know runs the suite at the speed `muse` runs, not 6x slower.
#include "runtime/runtime.h"

namespace {
const bool reexecuted = (muse::reexec_with_blas_kernels(), true);
}  // namespace

#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace muse {
namespace {

TEST(BlasKernels, AnExplicitCoreTypeIsNeverOverridden) {
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = before ? before : "";
  setenv("OPENBLAS_CORETYPE", "Haswell", 1);
  EXPECT_EQ(blas_kernel_override(), "");
  if (before) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else unsetenv("OPENBLAS_CORETYPE");
}

// The suite itself ran through support/blas_kernels.cpp: after it, nothing is left to override.
TEST(BlasKernels, TheTestProcessRunsWithTheKernelsItsCpuAllows) {
  EXPECT_EQ(blas_kernel_override(), "") << "OPENBLAS_CORETYPE was not set before OpenBLAS loaded";
}

}  // namespace
}  // namespace muse

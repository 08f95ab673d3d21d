// Process-wide compute settings: threads and device. Called once at the CLI/server boundary.
#pragma once
#include <string>

#include <c10/core/Device.h>

namespace muse {

struct ThreadParams {
  // Measured on the 2-core reference machine: 1 torch intra-op thread while OpenBLAS keeps its own threads
  // is fastest; more torch threads oversubscribe the cores (docs/PERFORMANCE.md). 0 = automatic.
  int torch_threads = 1;
  int blas_threads = 0;  // 0 = all cores
  // The engine's fused decoder has its own threads (EngineOptions::threads, default all cores); with more than
  // one it runs OpenBLAS on 1 thread for the length of each decode step and restores this count after it
  // (engine/cpu_decode.h), so prefill and training keep OpenBLAS's threads and the two pools never overlap.
};

void configure_threads(const ThreadParams& params);

// OpenBLAS picks its kernels by CPU model and, on a model it does not know (0.3.21 on Sapphire Rapids), falls back
// to its SSE3 "Prescott" kernels: training ran 6x slower (docs/LOG.md, 2026-12-03). The kernel family the CPU's
// features allow ("Cooperlake" with AVX-512 BF16, "SkylakeX" with AVX-512, "Haswell" with AVX2), or "" when
// OpenBLAS's own choice stands: it already runs AVX2 kernels or better, OPENBLAS_CORETYPE is set, the CPU has
// no AVX2, or OpenBLAS is not linked.
std::string blas_kernel_override();
// OpenBLAS reads OPENBLAS_CORETYPE only as it loads: when blas_kernel_override() names a family, runs this
// program again (same arguments, /proc/self/cmdline) with it set; returns when there is nothing to do or the
// exec fails. First thing in main(), before any thread starts.
void reexec_with_blas_kernels();
// "cpu", "cuda" or "cuda:N"; MuseError if unknown or if CUDA is not available in this build / machine.
c10::Device parse_device(const std::string& name);
// One line describing the runtime: libtorch version, threads, BLAS, device.
std::string runtime_summary(const c10::Device& device);

}  // namespace muse

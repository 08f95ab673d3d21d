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
// "cpu", "cuda" or "cuda:N"; MuseError if unknown or if CUDA is not available in this build / machine.
c10::Device parse_device(const std::string& name);
// One line describing the runtime: libtorch version, threads, BLAS, device.
std::string runtime_summary(const c10::Device& device);

}  // namespace muse

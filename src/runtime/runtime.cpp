#include "runtime/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <thread>

#include "util/error.h"

#if MUSE_HAVE_OPENBLAS
extern "C" {
// OpenBLAS keeps its own pool: at::set_num_threads does not reach it.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}
#else
// Builds without OpenBLAS (pip's libtorch on a GPU box) use whatever BLAS libtorch carries.
static void openblas_set_num_threads(int) {}
static int openblas_get_num_threads() { return 0; }
static char* openblas_get_config() { return const_cast<char*>("not linked"); }
#endif

namespace muse {

void configure_threads(const ThreadParams& params) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(params.torch_threads > 0 ? params.torch_threads : 1);
  openblas_set_num_threads(params.blas_threads > 0 ? params.blas_threads : cores);
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw MuseError("device '" + name + "' requested but CUDA is not available (this libtorch is CPU-only or no "
                      "GPU is visible)",
                      ErrorKind::Unsupported);
    try {
      return c10::Device(name);
    } catch (const std::exception&) {
      throw MuseError("invalid device '" + name + "' (expected cpu, cuda or cuda:N)");
    }
  }
  throw MuseError("unknown device '" + name + "' (expected cpu, cuda or cuda:N)");
}

std::string runtime_summary(const c10::Device& device) {
  return std::string("libtorch ") + TORCH_VERSION + ", device " + device.str() + ", torch threads " +
         std::to_string(at::get_num_threads()) + ", OpenBLAS threads " + std::to_string(openblas_get_num_threads()) +
         " (" + openblas_get_config() + ")";
}

}  // namespace muse

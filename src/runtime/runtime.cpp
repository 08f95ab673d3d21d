#include "runtime/runtime.h"

#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "util/error.h"

#if MUSE_HAVE_OPENBLAS
extern "C" {
// OpenBLAS keeps its own pool: at::set_num_threads does not reach it.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
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

namespace {

std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    }
  return {};
}

}  // namespace

std::string blas_kernel_override() {
#if MUSE_HAVE_OPENBLAS
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  std::string core = openblas_get_corename();
  std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* fast : {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})
    if (core == fast) return "";
  const std::set<std::string> flags = cpu_flags();
  const auto has = [&](const char* f) { return flags.count(f) > 0; };
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq"))
    return has("avx512_bf16") ? "Cooperlake" : "SkylakeX";
  if (has("avx2") && has("fma")) return "Haswell";
#endif
  return "";
}

void reexec_with_blas_kernels() {
  if (std::getenv("MUSE_BLAS_REEXEC")) return;  // once: a family OpenBLAS refused must not loop
  // Under valgrind /proc/self/exe is the valgrind tool, not this program (callgrind counts need no fast BLAS).
  if (const char* preload = std::getenv("LD_PRELOAD"); preload && std::string(preload).find("vgpreload") != std::string::npos)
    return;
  const std::string kernel = blas_kernel_override();
  if (kernel.empty()) return;
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t at = 0; at < cmdline.size();) {
    const size_t end = cmdline.find('\0', at);
    args.push_back(cmdline.substr(at, end == std::string::npos ? std::string::npos : end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (args.empty()) return;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  setenv("OPENBLAS_CORETYPE", kernel.c_str(), 1);
  setenv("MUSE_BLAS_REEXEC", "1", 1);
  execv("/proc/self/exe", argv.data());
  unsetenv("OPENBLAS_CORETYPE");  // the exec failed: carry on as we were
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

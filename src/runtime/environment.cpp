#include "runtime/environment.h"

#include <cstdio>
#include <fstream>

#include "runtime/runtime.h"

namespace muse {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown" : line.substr(start);
  }
  return "unknown";
}

std::string git_revision() {
  FILE* pipe = popen("git rev-parse --short HEAD 2>/dev/null", "r");
  if (!pipe) return "unknown";
  std::string output;
  char chunk[128];
  while (std::fgets(chunk, sizeof chunk, pipe)) output += chunk;
  pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output.empty() ? "unknown" : output;
}

Environment probe_environment(const c10::Device& device) {
  Environment env;
  env.cpu = cpu_model();
  env.runtime = runtime_summary(device);
  env.git_commit = git_revision();
  return env;
}

}  // namespace muse

// What machine and code a run happened on, for report cards: CPU model, runtime, source revision.
#pragma once
#include <string>

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

namespace muse {

struct Environment {
  std::string cpu = "unknown";         // cpu_model()
  std::string runtime;                 // runtime_summary(device)
  std::string git_commit = "unknown";  // git_revision()
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Environment, cpu, runtime, git_commit)

Environment probe_environment(const c10::Device& device);

// The first "model name" of /proc/cpuinfo; "unknown" where there is none (not Linux, or an ARM kernel).
std::string cpu_model();
// `git rev-parse --short HEAD` of the current directory's repository; "unknown" outside one or without git.
std::string git_revision();

}  // namespace muse

// muse report RUN: the curves of a training run as SVG.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "training/rl/curves.h"

namespace muse::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Draw a run's curves (an RL run: reward, thinking length, health) as SVG");
  auto run = std::make_shared<std::string>();
  cmd->add_option("run", *run, "the run directory (holds metrics.jsonl)")->required()->check(CLI::ExistingDirectory);
  cmd->callback([run] {
    for (const auto& file : write_rl_curves(*run)) std::printf("wrote %s\n", file.c_str());
  });
}

}  // namespace muse::cli

// muse report RUN: a recipe run's report card rendered again from its report.json (after a change to how cards
// are written), and the curves of an RL run as SVG.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "training/report.h"
#include "training/rl/curves.h"

namespace muse::cli {

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "Render a run's report: a recipe run's card (report.md, from its report.json) and an RL run's curves (SVG)");
  auto run = std::make_shared<std::string>();
  cmd->add_option("run", *run, "the run directory (holds report.json or metrics.jsonl)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->callback([run] {
    namespace fs = std::filesystem;
    if (fs::exists(fs::path(*run) / "report.json")) {
      write_report(*run, read_report(*run));
      std::printf("wrote %s\n", (fs::path(*run) / "report.md").string().c_str());
      return;  // a recipe run has no RL curves
    }
    for (const auto& file : write_rl_curves(*run)) std::printf("wrote %s\n", file.c_str());
  });
}

}  // namespace muse::cli

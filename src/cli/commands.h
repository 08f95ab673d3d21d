// Each file in src/cli/ adds its subcommands to the app. Commands throw MuseError; main() reports it.
#pragma once
#include <CLI/CLI.hpp>

#include "training/rl/rl.h"

namespace muse::cli {

void add_train_commands(CLI::App& app);     // tokenizer train, pretrain, train --recipe
void add_generate_commands(CLI::App& app);  // generate, chat
void add_eval_command(CLI::App& app);       // eval
void add_data_commands(CLI::App& app);      // data preview
void add_serve_command(CLI::App& app);      // serve
void add_rl_command(CLI::App& app);         // rl
void add_report_command(CLI::App& app);     // report RUN
void add_scale_command(CLI::App& app);      // scale pretrain

// Shared options.
struct RuntimeOptions {
  std::string device = "cpu";
  int threads = 1;
  int blas_threads = 0;
};
void add_runtime_options(CLI::App& command, RuntimeOptions& options);
void apply_runtime_options(const RuntimeOptions& options);

// The options of an RL run (muse rl, muse scale rl): every RlParams field, names resolved after parsing.
struct RlCliOptions {
  RlParams params;
  std::string penalty = "none", aggregation = "token", optimizer = "adamw", tools = "on";
  bool keep_uniform = false;
  RuntimeOptions runtime;
};
void add_rl_options(CLI::App& command, RlCliOptions& options);  // --out is added, not required
RlParams resolve_rl_options(const RlCliOptions& options);       // also applies the runtime options

}  // namespace muse::cli

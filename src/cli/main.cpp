// muse: the command-line entry point. The one place errors become a message and an exit code.
#include <cstdio>
#include <exception>

#include <unistd.h>

#include <c10/util/Exception.h>

#include "cli/commands.h"
#include "runtime/runtime.h"
#include "util/error.h"

namespace muse::cli {

void add_runtime_options(CLI::App& command, RuntimeOptions& options) {
  command.add_option("--device", options.device, "cpu, cuda or cuda:N")->capture_default_str();
  command.add_option("--threads", options.threads, "torch intra-op threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  command.add_option("--blas-threads", options.blas_threads, "OpenBLAS threads (0 = all cores)")
      ->capture_default_str()->check(CLI::Range(0, 256));
}

void apply_runtime_options(const RuntimeOptions& options) {
  configure_threads({options.threads, options.blas_threads});
}

}  // namespace muse::cli

int main(int argc, char** argv) {
  CLI::App app{"Muse: train and run a small natively multimodal reasoning model from scratch", "muse"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "muse 0.1");
  muse::cli::add_train_commands(app);
  muse::cli::add_generate_commands(app);
  muse::cli::add_eval_command(app);
  muse::cli::add_data_commands(app);
  // One line per error, like every other error muse reports.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("muse: error: ") + e.what() + " (see --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; bad flags exit non-zero with CLI11's one-line reason.
    return app.exit(e);
  } catch (const muse::Interrupted& e) {
    std::fprintf(stderr, "%smuse: %s\n", isatty(STDERR_FILENO) ? "\n" : "", e.what());
    return 130;
  } catch (const muse::MuseError& e) {
    std::fprintf(stderr, "muse: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // Torch errors carry a C++ backtrace in what(); a user needs the message only.
    std::fprintf(stderr, "muse: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "muse: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}

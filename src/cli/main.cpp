// muse: the command-line entry point. The one place errors become a message and an exit code.
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>

#include <unistd.h>

#include <c10/util/Exception.h>

#include "cli/commands.h"
#include "runtime/runtime.h"
#include "util/error.h"
#include "util/log.h"

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

namespace {

// The exit status for each kind of error: 1 = this request cannot be served as given (fix the arguments or
// files, or try again later), 130 = the user interrupted and the work was saved (the shell's 128 + SIGINT),
// 2 = a bug in Muse.
int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidRequest:
    case ErrorKind::NotFound:
    case ErrorKind::OverCapacity:
    case ErrorKind::Unsupported:
    case ErrorKind::Busy:
    case ErrorKind::Timeout:
    case ErrorKind::Cancelled: return 1;
    case ErrorKind::Interrupted: return 130;
    case ErrorKind::Internal: return 2;
  }
  return 2;
}

// --log-level on `muse` and on every command, so it works wherever a person types it.
void add_log_level_option(CLI::App& command) {
  command
      .add_option_function<std::string>(
          "--log-level", [](const std::string& level) { set_log_level(parse_log_level(level.c_str())); },
          "progress notes on stderr: debug | info | warn | error | off "
          "(default: $MUSE_LOG, else info)")
      ->type_name("LEVEL");
  for (CLI::App* sub : command.get_subcommands(std::function<bool(CLI::App*)>())) add_log_level_option(*sub);
}

std::string command_path(const std::vector<const CLI::App*>& chain) {
  std::string path;
  for (const CLI::App* command : chain) path += (path.empty() ? "" : " ") + command->get_name();
  return path;
}

// CLI11 files a word it cannot place as an extra of the command being parsed, and --help wins over extras:
// `muse nosuch --help` would print the main help and exit 0. Finds the first command on the parsed path
// with extras: a word where a subcommand belongs is an unknown command; anything else is refused as CLI11
// refuses extras without --help. nullopt when nothing was left over.
std::optional<std::string> leftover_argument_error(const CLI::App& app) {
  std::vector<const CLI::App*> chain{&app};
  while (true) {
    const CLI::App* command = chain.back();
    const auto extras = command->remaining();
    if (!extras.empty()) {
      const auto subcommands = command->get_subcommands(std::function<bool(const CLI::App*)>());
      const std::string path = command_path(chain);
      if (!subcommands.empty() && extras.front().rfind('-', 0) != 0) {
        std::string known;
        for (const CLI::App* sub : subcommands) known += (known.empty() ? "" : ", ") + sub->get_name();
        return "unknown command '" + (chain.size() > 1 ? path.substr(path.find(' ') + 1) + " " : "") +
               extras.front() + "' (known: " + known + "; see " + path + " --help)";
      }
      return std::string(CLI::ExtrasError(path, extras).what()) + " (see " + path + " --help)";
    }
    const auto selected = command->get_subcommands();
    if (selected.empty()) return std::nullopt;
    chain.push_back(selected.front());
  }
}

}  // namespace
}  // namespace muse::cli

int main(int argc, char** argv) {
  muse::reexec_with_blas_kernels();  // before anything else runs: OpenBLAS reads its kernel family as it loads
  using muse::ErrorKind;
  using muse::cli::exit_code_for;
  CLI::App app{"Muse: train and run a small natively multimodal reasoning model from scratch", "muse"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "muse 0.1");
  muse::cli::add_train_commands(app);
  muse::cli::add_generate_commands(app);
  muse::cli::add_eval_command(app);
  muse::cli::add_data_commands(app);
  muse::cli::add_serve_command(app);
  muse::cli::add_rl_command(app);
  muse::cli::add_report_command(app);
  muse::cli::add_scale_command(app);
  muse::cli::add_log_level_option(app);
  app.footer("Environment: MUSE_LOG=debug|info|warn|error|off sets the log level (--log-level overrides it).\n"
             "Exit status: 0 done, 1 bad request (arguments, files, limits), 130 interrupted (work saved), "
             "2 internal error.");
  // One line per error, like every other error muse reports.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("muse: error: ") + e.what() + " (see --help)\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (const auto error = muse::cli::leftover_argument_error(app)) {
      std::fprintf(stderr, "muse: error: %s\n", error->c_str());
      return exit_code_for(ErrorKind::InvalidRequest);
    }
    // Help and --version exit 0; bad flags print CLI11's one-line reason and are a bad request.
    const int status = app.exit(e);
    return status == 0 ? 0 : exit_code_for(ErrorKind::InvalidRequest);
  } catch (const muse::MuseError& e) {
    if (e.kind() == ErrorKind::Interrupted)
      std::fprintf(stderr, "%smuse: %s\n", isatty(STDERR_FILENO) ? "\n" : "", e.what());
    else if (e.kind() == ErrorKind::Internal)
      std::fprintf(stderr, "muse: internal error: %s\n", e.what());
    else
      std::fprintf(stderr, "muse: error: %s\n", e.what());
    return exit_code_for(e.kind());
  } catch (const c10::OutOfMemoryError& e) {
    std::fprintf(stderr, "muse: error: %s\n", e.what_without_backtrace());
    return exit_code_for(ErrorKind::OverCapacity);
  } catch (const c10::Error& e) {
    // Torch errors carry a C++ backtrace in what(); a user needs the message only. Muse checks its inputs
    // before torch sees them, so one reaching here is a bug.
    std::fprintf(stderr, "muse: error: %s\n", e.what_without_backtrace());
    return exit_code_for(ErrorKind::Internal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "muse: internal error: %s\n", e.what());
    return exit_code_for(ErrorKind::Internal);
  }
  return 0;
}

// The benchmark programs' command lines, one way for all of them (CLI11): --help / -h prints the program's usage
// and options and exits 0 before anything runs (some benchmarks take many minutes); an unknown flag or a bad
// value prints one line "PROGRAM: error: ..." and exits 2; an error while running prints one line and exits 1.
#pragma once
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "anchor_shapes.h"

namespace muse::bench {

struct CommandLineOptions {
  // Extras starting with one of these are handed back instead of refused (bench_gemm: Google Benchmark's own
  // flags). None: every argument must be one of the app's options.
  std::vector<std::string> passthrough_prefixes;
  // Printed after the app's help (bench_gemm: Google Benchmark's flags).
  std::function<void()> after_help;
};

// Arguments CLI11 could not place (extras), less those handed on to another parser.
inline std::vector<std::string> unknown_arguments(const CLI::App& app, const std::vector<std::string>& prefixes) {
  std::vector<std::string> unknown;
  for (const std::string& extra : app.remaining()) {
    bool passes = false;
    for (const auto& prefix : prefixes) passes = passes || extra.rfind(prefix, 0) == 0;
    if (!passes) unknown.push_back(extra);
  }
  return unknown;
}

// Parses argv into what `app` declares; returns (the passthrough arguments) only when the program should run.
// An unknown argument is reported before anything else, --help included: it is the likeliest typo.
inline std::vector<std::string> parse_command_line(CLI::App& app, int argc, char** argv,
                                                   const CommandLineOptions& options = {}) {
  const std::string program = app.get_name();
  const auto refuse = [&](const std::string& problem) {
    std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program.c_str(), problem.c_str(), program.c_str());
    std::exit(2);
  };
  if (!options.passthrough_prefixes.empty()) app.allow_extras();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const auto unknown = unknown_arguments(app, options.passthrough_prefixes);
    if (!unknown.empty()) refuse("unknown argument '" + unknown.front() + "'");
    if (e.get_exit_code() != 0) refuse(e.what());
    if (dynamic_cast<const CLI::CallForHelp*>(&e)) {
      std::fputs(app.help().c_str(), stdout);
      if (options.after_help) options.after_help();
      std::exit(0);
    }
    std::exit(app.exit(e));  // --help-all and the like
  }
  const auto unknown = unknown_arguments(app, options.passthrough_prefixes);
  if (!unknown.empty()) refuse("unknown argument '" + unknown.front() + "'");
  return app.remaining();
}

// One line for whatever stopped a benchmark (torch's C++ backtrace left out); main() returns what this returns.
inline int report_error(const char* program, const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  std::fprintf(stderr, "%s: error: %s\n", program, torch_error ? torch_error->what_without_backtrace() : error.what());
  return 1;
}

// For --shapes: a typo fails while parsing, not after minutes of benchmarking the shapes before it.
inline CLI::Validator anchor_shape_name() {
  return CLI::Validator(
      [](std::string& name) {
        if (find_anchor_shape(name)) return std::string();
        std::string known;
        for (const auto& shape : anchor_shapes()) known += (known.empty() ? "" : ", ") + shape.name;
        return "unknown shape '" + name + "' (known: " + known + ")";
      },
      "");
}

}  // namespace muse::bench

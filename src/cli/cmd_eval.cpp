// muse eval: held-out task accuracy of a model directory.
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "engine/generator.h"
#include "eval/task_eval.h"
#include "model/weights.h"
#include "runtime/runtime.h"

namespace muse::cli {

std::string default_model_dir();

void add_eval_command(CLI::App& app) {
  struct EvalOpts {
    std::string model_dir, tasks = "add,sub,mul,countdown";
    std::vector<int> difficulties = {1, 2};
    int problems = 100;
    uint64_t seed = 7;
    int max_tokens = 200;
    bool blind_baseline = false;
    RuntimeOptions runtime;
  };
  auto o = std::make_shared<EvalOpts>();
  auto* cmd = app.add_subcommand("eval", "Held-out accuracy per task and difficulty (greedy)");
  cmd->add_option("--model", o->model_dir, "model directory (default: models/default)");
  cmd->add_option("--tasks", o->tasks, "comma-separated task names")->capture_default_str();
  cmd->add_option("--difficulty", o->difficulties, "difficulties (comma-separated)")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--problems", o->problems, "problems per task and difficulty")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens)->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_flag("--blind-baseline", o->blind_baseline,
                "also run image tasks with every image blanked (what the model scores without seeing)");
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] {
    apply_runtime_options(o->runtime);
    const auto device = parse_device(o->runtime.device);
    auto loaded = load_model_dir(o->model_dir.empty() ? default_model_dir() : o->model_dir, device);
    Generator generator(loaded.model, device);
    std::vector<TaskEvalResult> results;
    std::stringstream names(o->tasks);
    std::string name;
    while (std::getline(names, name, ',')) {
      const auto task = make_task(name);
      for (int d : o->difficulties) {
        if (d < task->min_difficulty() || d > task->max_difficulty()) {
          std::fprintf(stderr, "skipping %s difficulty %d (range %d-%d)\n", name.c_str(), d, task->min_difficulty(),
                       task->max_difficulty());
          continue;
        }
        results.push_back(evaluate_task(generator, loaded.tokenizer, *task, d, o->problems, o->seed, o->max_tokens));
        if (o->blind_baseline && task_has_images(*task, d))
          results.push_back(
              evaluate_task(generator, loaded.tokenizer, *task, d, o->problems, o->seed, o->max_tokens, true));
      }
    }
    std::printf("%s", eval_table_markdown(results).c_str());
  });
}

}  // namespace muse::cli

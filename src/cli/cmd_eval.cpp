// muse eval: held-out task accuracy of a model directory, swept over tasks, difficulties, thinking budgets and
// prompt styles; Markdown on stdout, and optionally JSON and an SVG chart of accuracy against the budget.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <unistd.h>

#include "cli/commands.h"
#include "engine/engine.h"
#include "data/jsonl.h"
#include "agents/contemplate.h"
#include "eval/chat_eval.h"
#include "eval/contemplate_eval.h"
#include "eval/eval_report.h"
#include "eval/task_eval.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/format.h"
#include "util/log.h"

namespace muse::cli {

namespace fs = std::filesystem;

std::string default_model_dir();

namespace {

// A file we will write at the end: fail now, not after the whole sweep, if its folder is missing.
void check_output_file(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  const auto parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent))
    throw file_error(path, "cannot write " + flag + " output: folder " + parent.string() + " does not exist",
                     ErrorKind::NotFound);
  if (fs::is_directory(path)) throw file_error(path, "is a folder; " + flag + " wants a file name");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct EvalOpts {
    std::string model_dir, tasks = "add,sub,mul,countdown";
    std::vector<int> difficulties = {1, 2};
    int problems = 100;
    uint64_t seed = 7;
    int max_tokens = 200;
    bool blind_baseline = false;
    std::string mode = "standard";
    std::string budgets = "-1";
    int min_thinking_tokens = 0;
    std::string style = "plain";
    std::string surface = "trained";
    std::string tools = "on";
    std::string spawn = "off";
    double deadline = 0;
    std::vector<int> agents = {1, 2, 4, 8};
    std::string synthesis = "vote,confidence,online";
    int concurrency = 1;
    ContemplateParams contemplate;  // keep share, warm-up, consensus, window (agents and synthesis: the lists)
    double temperature = 0.0, top_p = 1.0;
    std::string json_path, plot_path, out_dir;
    std::vector<std::string> chat_files;
    RuntimeOptions runtime;
  };
  auto o = std::make_shared<EvalOpts>();
  auto* cmd = app.add_subcommand(
      "eval", "Held-out accuracy per task, difficulty, thinking budget and prompt style (greedy, fixed seeds)");
  cmd->add_option("--model", o->model_dir, "model directory (default: models/default)");
  cmd->add_option("--tasks", o->tasks, "comma-separated task names")->capture_default_str();
  cmd->add_option("--difficulty", o->difficulties, "difficulties (comma-separated)")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-n,--problems", o->problems, "problems per task, difficulty and budget")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", o->seed)->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens, "most tokens generated per problem (thinking and answer)")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--mode", o->mode,
                  "standard (one agent) | contemplating (--agents agents per problem, each --synthesis, beside "
                  "a greedy Standard row)")
      ->capture_default_str()->check(CLI::IsMember({"standard", "contemplating"}));
  cmd->add_option("--agents", o->agents, "contemplating: agent counts (comma-separated)")
      ->delimiter(',')->capture_default_str()->check(CLI::Range(1, ContemplateParams::kMaxAgents));
  cmd->add_option("--synthesis", o->synthesis, "contemplating: vote, confidence, online (comma-separated)")
      ->capture_default_str();
  cmd->add_option("--keep-share", o->contemplate.keep_share,
                  "contemplating: share of agents (best confidence) that vote; online: the threshold is the score "
                  "this share of the warm-up reaches")
      ->capture_default_str()->check(CLI::Range(0.01, 1.0));
  cmd->add_option("--warmup", o->contemplate.warmup, "contemplating online: warm-up agents (0: max(2, agents/4))")
      ->capture_default_str()->check(CLI::Range(0, ContemplateParams::kMaxAgents));
  cmd->add_option("--consensus", o->contemplate.consensus,
                  "contemplating online: stop once one answer holds this share of the weighted vote")
      ->capture_default_str()->check(CLI::Range(0.51, 1.0));
  cmd->add_option("--online-parallel", o->contemplate.online_parallel,
                  "contemplating online: later agents decoding at once, each ending one starting the next (0: all "
                  "at once; fewer save more tokens at consensus, for more wall time)")
      ->capture_default_str()->check(CLI::Range(0, ContemplateParams::kMaxAgents));
  cmd->add_option("--window", o->contemplate.window, "contemplating: tokens per confidence window")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--concurrency", o->concurrency,
                  "contemplating: problems in flight at once (1: each alone, so s/problem is its latency)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--budgets", o->budgets,
                  "thinking budgets to sweep, comma-separated token counts; 0 = answer without reasoning, "
                  "-1 or none = no limit")
      ->capture_default_str();
  cmd->add_option("--min-thinking-tokens", o->min_thinking_tokens,
                  "suppress the end of thinking (and of the reply) before this many thinking tokens")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_option("--style", o->style,
                  "prompt style: plain (the problem alone) or chat (a system prompt and 1-2 earlier solved "
                  "problems first); plain,chat runs both")
      ->capture_default_str();
  cmd->add_option("--surface", o->surface,
                  "trained | heldout | both: the wordings and picture styles training saw, or the held-out ones "
                  "it never saw")
      ->capture_default_str()
      ->check(CLI::IsMember({"trained", "heldout", "both"}));
  cmd->add_option("--tools", o->tools,
                  "on | off | both: built-in tools (calculator, zoom, table_query) available while answering; "
                  "both adds a tools-off run of every cell (the tool-use table compares them)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off", "both"}));
  cmd->add_option("--spawn", o->spawn,
                  "off | on | both: sub-agents — on runs each problem as an agent tree that may spawn helpers, one "
                  "problem at a time (latency per problem in the sub-agents table); both adds the solo run, also one at a time")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off", "both"}));
  cmd->add_option("--deadline", o->deadline,
                  "seconds per problem (problems one at a time); an answer not finished by then counts as wrong")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--temperature", o->temperature,
                  "0 = greedy; above 0 sampled with --seed (e.g. to see how long the model thinks by choice)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", o->top_p, "nucleus sampling mass (with --temperature)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--blind-baseline", o->blind_baseline,
                "also run image tasks with every image blanked (what the model scores without seeing)");
  cmd->add_option("--json", o->json_path, "also write every result as JSON to this file");
  cmd->add_option("--plot", o->plot_path, "also write an SVG chart of accuracy against thinking budget");
  cmd->add_option("--out", o->out_dir, "write eval.md, eval.json and eval.svg into this folder");
  cmd->add_option("--chat", o->chat_files,
                  "score the held-out conversations of these JSONL chat files instead of tasks (exact match "
                  "of the final assistant message)")
      ->check(CLI::ExistingFile);
  add_runtime_options(*cmd, o->runtime);
  // What shapes the task sweep; --chat scores conversations instead and would silently ignore these.
  std::vector<const CLI::Option*> task_sweep_flags;
  for (const char* name : {"--tasks", "--difficulty", "--budgets", "--style", "--surface", "--blind-baseline",
                           "--problems", "--min-thinking-tokens", "--plot", "--temperature", "--top-p",
                           "--tools"})
    task_sweep_flags.push_back(cmd->get_option(name));
  cmd->callback([o, task_sweep_flags] {
    // Everything that can be wrong with the request fails here, before the model loads.
    if (!o->chat_files.empty())
      for (const CLI::Option* flag : task_sweep_flags)
        if (flag->count() > 0)
          throw MuseError(flag->get_name(false, true) + " sets up the task sweep and cannot be combined with " +
                          "--chat (which scores the conversations of its files instead)");
    check_eval_mode(o->mode);
    const bool contemplating = parse_answer_mode(o->mode, "--mode") == AnswerMode::Contemplating;
    std::vector<Synthesis> syntheses;
    for (const auto& name : split_list(o->synthesis)) syntheses.push_back(parse_synthesis(name, "--synthesis"));
    if (contemplating && syntheses.empty())
      throw MuseError("--synthesis: no strategy given (vote, confidence, online)");
    const auto budgets = parse_budgets(o->budgets);
    const auto styles = parse_prompt_styles(o->style);
    const auto task_list = parse_task_list(o->tasks);
    for (int b : budgets)
      if (b >= 0 && o->min_thinking_tokens > b)
        throw MuseError("--min-thinking-tokens " + std::to_string(o->min_thinking_tokens) +
                        " exceeds the thinking budget " + std::to_string(b));
    check_output_file("--json", o->json_path);
    check_output_file("--plot", o->plot_path);
    if (!o->out_dir.empty()) {
      std::error_code ec;
      fs::create_directories(o->out_dir, ec);
      if (ec || !fs::is_directory(o->out_dir)) throw file_error(o->out_dir, "cannot create the --out folder");
    }

    apply_runtime_options(o->runtime);
    const auto device = parse_device(o->runtime.device);
    const std::string model_dir = o->model_dir.empty() ? default_model_dir() : o->model_dir;
    // Chat files are read (and their lines checked) before the model loads, too.
    std::vector<std::pair<std::string, std::vector<ChatConversation>>> chat_sets;
    for (const auto& f : o->chat_files) chat_sets.emplace_back(f, load_chat_jsonl(f));
    auto loaded = load_model_dir(model_dir, device);
    Engine engine(loaded.model, device, EngineOptions::for_device(device));

    if (!chat_sets.empty()) {
      std::vector<ChatEvalResult> chat_results;
      for (const auto& [file, conversations] : chat_sets) {
        chat_results.push_back(evaluate_chat(engine, loaded.tokenizer, conversations,
                                             fs::path(file).filename().string(), o->max_tokens));
        if (chat_results.back().conversations == 0)
          throw file_error(file, "has no held-out conversations to score (about 10% of conversations are held "
                                 "out, by a hash of their text; add more)");
      }
      const std::string markdown = chat_eval_markdown(chat_results);
      std::printf("%s", markdown.c_str());
      nlohmann::json j = nlohmann::json::array();
      for (const auto& r : chat_results)
        j.push_back({{"file", r.name}, {"conversations", r.conversations}, {"accuracy", r.accuracy},
                     {"mean_thinking_tokens", r.mean_thinking_tokens}, {"seconds", r.seconds},
                     {"examples", r.examples}});
      const std::string json = nlohmann::json{{"model", model_dir}, {"chat", j}}.dump(2) + "\n";
      if (!o->json_path.empty()) write_file_atomic(o->json_path, json);
      if (!o->out_dir.empty()) {
        write_file_atomic((fs::path(o->out_dir) / "chat_eval.md").string(), markdown);
        write_file_atomic((fs::path(o->out_dir) / "chat_eval.json").string(), json);
      }
      return;
    }

    // The cells, in report order: style, task, difficulty, then budget (and its image-blind twin).
    struct Cell {
      const Task* task;
      int difficulty;
      PromptStyle style;
      int budget;
      bool blind;
      Surface surface;
      bool tools;
      bool spawn;
    };
    std::vector<bool> spawn_settings;
    if (o->spawn != "off") spawn_settings.push_back(true);
    if (o->spawn != "on") spawn_settings.push_back(false);
    std::vector<bool> tool_settings;
    if (o->tools != "off") tool_settings.push_back(true);
    if (o->tools != "on") tool_settings.push_back(false);
    std::vector<Surface> surfaces;
    if (o->surface != "heldout") surfaces.push_back(Surface::Trained);
    if (o->surface != "trained") surfaces.push_back(Surface::Heldout);
    std::vector<std::unique_ptr<Task>> tasks;
    std::vector<Cell> cells;
    for (const auto& name : task_list) tasks.push_back(make_task(name));
    for (auto style : styles)
      for (const auto& task : tasks)
        for (int d : o->difficulties) {
          if (d < task->min_difficulty() || d > task->max_difficulty()) {
            if (style == styles.front())
              log_warn("eval", "skipping %s difficulty %d (range %d-%d)", task->name().c_str(), d,
                       task->min_difficulty(), task->max_difficulty());
            continue;
          }
          const bool images = task_has_images(*task, d);
          if (images && !loaded.config.sees_images()) {
            if (style == styles.front())
              log_warn("eval", "skipping %s difficulty %d: its prompts show images and this model reads none",
                       task->name().c_str(), d);
            continue;
          }
          for (int b : budgets)
            for (Surface surface : surfaces)
              for (bool tools : tool_settings)
                for (bool spawn : spawn_settings) {
                  cells.push_back({task.get(), d, style, b, false, surface, tools, spawn});
                  if (o->blind_baseline && images) cells.push_back({task.get(), d, style, b, true, surface, tools, spawn});
                }
        }
    if (cells.empty()) throw MuseError("nothing to evaluate: every task and difficulty asked for was skipped");

    const bool progress = isatty(STDERR_FILENO);
    const auto start = std::chrono::steady_clock::now();
    if (contemplating) {
      // Standard (one greedy agent) beside every agent count and synthesis, on the same problems, run the same
      // way (--concurrency problems at once).
      std::vector<ContemplationEvalResult> results;
      for (size_t i = 0; i < cells.size(); ++i) {
        const auto& c = cells[i];
        if (c.blind) continue;
        EvalParams params;
        params.problems = o->problems;
        params.seed = o->seed;
        params.max_tokens = o->max_tokens;
        params.max_thinking_tokens = c.budget;
        params.min_thinking_tokens = o->min_thinking_tokens;
        params.style = c.style;
        params.surface = c.surface;
        params.tool_use.enabled = c.tools;
        ContemplationEvalParams run;
        run.contemplate = o->contemplate;
        run.concurrency = o->concurrency;
        if (o->temperature > 0) run.contemplate.temperature = o->temperature;
        auto one = [&](AnswerMode mode, int agents, Synthesis synthesis) {
          run.mode = mode;
          run.contemplate.agents = agents;
          run.contemplate.synthesis = synthesis;
          run.contemplate.warmup = std::min(o->contemplate.warmup, agents);
          run.contemplate.online_parallel = std::min(o->contemplate.online_parallel, agents);
          if (progress)
            log_info("eval", "[%zu/%zu] %s@%d %s %d agents %s ...", i + 1, cells.size(), c.task->name().c_str(),
                     c.difficulty, answer_mode_name(mode), agents, synthesis_name(synthesis));
          results.push_back(evaluate_contemplating(engine, loaded.tokenizer, *c.task, c.difficulty, params, run));
        };
        one(AnswerMode::Standard, 1, Synthesis::Vote);
        for (int agents : o->agents)
          for (Synthesis synthesis : syntheses) one(AnswerMode::Contemplating, agents, synthesis);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string markdown = "# Standard vs Contemplating\n\nModel " + model_dir + ", " +
                             std::to_string(o->problems) + " held-out problems per row (seed " +
                             std::to_string(o->seed) + "), " + std::to_string(o->concurrency) +
                             " problem(s) at a time; " + format_fixed(seconds, 1) + " s in all.\n\n" +
                             contemplation_table_markdown(results);
      std::printf("%s", markdown.c_str());
      const std::string json = nlohmann::json{{"model", model_dir}, {"seed", o->seed}, {"problems", o->problems},
                                              {"concurrency", o->concurrency},
                                              {"results", contemplation_json(results)}}.dump(2) + "\n";
      if (!o->json_path.empty()) write_file_atomic(o->json_path, json);
      if (!o->plot_path.empty())
        write_file_atomic(o->plot_path, render_line_chart_svg(contemplation_chart(results, false)));
      if (!o->out_dir.empty()) {
        write_file_atomic((fs::path(o->out_dir) / "contemplation.md").string(), markdown);
        write_file_atomic((fs::path(o->out_dir) / "contemplation.json").string(), json);
        write_file_atomic((fs::path(o->out_dir) / "contemplation_tokens.svg").string(),
                          render_line_chart_svg(contemplation_chart(results, false)));
        write_file_atomic((fs::path(o->out_dir) / "contemplation_seconds.svg").string(),
                          render_line_chart_svg(contemplation_chart(results, true)));
      }
      return;
    }
    std::vector<TaskEvalResult> results;
    for (size_t i = 0; i < cells.size(); ++i) {
      const auto& c = cells[i];
      EvalParams params;
      params.problems = o->problems;
      params.seed = o->seed;
      params.max_tokens = o->max_tokens;
      params.blank_images = c.blind;
      params.max_thinking_tokens = c.budget;
      params.min_thinking_tokens = o->min_thinking_tokens;
      params.style = c.style;
      params.surface = c.surface;
      params.temperature = o->temperature;
      params.top_p = o->top_p;
      params.tool_use.enabled = c.tools;
      params.spawn = c.spawn;
      params.sequential = o->spawn != "off" || o->deadline > 0;
      params.deadline_s = o->deadline;
      if (progress)
        log_info("eval", "[%zu/%zu] %s@%d %s%s budget %s%s%s ...", i + 1, cells.size(), c.task->name().c_str(),
                 c.difficulty, prompt_style_name(c.style), c.surface == Surface::Heldout ? " held-out surface" : "",
                 budget_label(c.budget).c_str(), c.blind ? " (blank images)" : "",
                 c.tools ? (c.spawn ? " sub-agents" : "") : (c.spawn ? " tools off, sub-agents" : " tools off"));
      results.push_back(evaluate_task(engine, loaded.tokenizer, *c.task, c.difficulty, params));
    }

    EvalReportInfo info;
    info.model = model_dir;
    info.mode = o->mode;
    info.seed = o->seed;
    info.problems = o->problems;
    info.max_tokens = o->max_tokens;
    info.min_thinking_tokens = o->min_thinking_tokens;
    info.budgets = budgets;
    info.temperature = o->temperature;
    info.top_p = o->top_p;
    info.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string markdown = sweep_markdown(info, results);
    std::printf("%s", markdown.c_str());
    const std::string json = sweep_json(info, results).dump(2) + "\n";
    const std::string svg = sweep_svg(info, results);
    if (!o->json_path.empty()) write_file_atomic(o->json_path, json);
    if (!o->plot_path.empty()) write_file_atomic(o->plot_path, svg);
    if (!o->out_dir.empty()) {
      write_file_atomic((fs::path(o->out_dir) / "eval.md").string(), markdown);
      write_file_atomic((fs::path(o->out_dir) / "eval.json").string(), json);
      write_file_atomic((fs::path(o->out_dir) / "eval.svg").string(), svg);
    }
  });
}

}  // namespace muse::cli

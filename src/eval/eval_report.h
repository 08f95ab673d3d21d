// Reports of an evaluation sweep — every task x difficulty x thinking budget x prompt style of one model:
// Markdown tables, a JSON document with every field, and an SVG chart of accuracy against thinking budget.
// Also the parsing and checking of what `muse eval` is asked to sweep, so bad requests fail before any work.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/svg_plot.h"
#include "eval/task_eval.h"

namespace muse {

// What the sweep was (the header of every report).
struct EvalReportInfo {
  std::string model;              // the model directory
  std::string mode = "standard";  // reasoning mode
  uint64_t seed = 0;
  int problems = 0;               // per cell
  int max_tokens = 0;
  int min_thinking_tokens = 0;
  std::vector<int> budgets;       // in report order; -1 = no limit
  double temperature = 0.0;       // 0 = greedy decoding
  double top_p = 1.0;
  double total_seconds = 0.0;     // wall time of the whole sweep (0: the sum of the cells)
};

// "a, b,,c" -> {"a", "b", "c"}: comma-separated items, trimmed, empty ones dropped.
std::vector<std::string> split_list(const std::string& list);

// The reasoning modes `muse eval` knows (standard, contemplating); MuseError for anything else.
std::vector<std::string> eval_modes();
void check_eval_mode(const std::string& mode);

// "0,16,64,256,-1" -> thinking budgets in ascending order, -1 ("none" is accepted too) = no limit, last;
// duplicates dropped. MuseError for an empty list, a non-number or a negative budget other than -1.
std::vector<int> parse_budgets(const std::string& list);
std::string budget_label(int budget);  // "none" for -1, else the number

// "add,countdown" -> task names, in order, duplicates dropped; MuseError for an empty list or an unknown task.
std::vector<std::string> parse_task_list(const std::string& list);
// "plain" or "plain,chat" -> styles; MuseError for an empty list or an unknown style.
std::vector<PromptStyle> parse_prompt_styles(const std::string& list);

// A result's line in the tables and the chart: "add@2", "add@2 chat", "count@1 blind".
std::string series_label(const TaskEvalResult& result, bool show_style);

// The whole report: a header, accuracy and thinking tokens per series and budget, and every result in full.
std::string sweep_markdown(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results);
// {"model", "mode", ..., "budgets": [...], "results": [{every TaskEvalResult field, "budget_label"}...]}
nlohmann::json sweep_json(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results);
// Accuracy (0-100%) against the thinking budget (categorical ticks in the order of info.budgets), one line
// per series.
LineChart sweep_chart(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results);
std::string sweep_svg(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results);

}  // namespace muse

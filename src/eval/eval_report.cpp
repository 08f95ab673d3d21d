#include "eval/eval_report.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/error.h"

namespace muse {
namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}


std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

bool show_styles(const std::vector<TaskEvalResult>& results) {
  for (const auto& r : results)
    if (r.style != "plain") return true;
  return false;
}

// Series labels in first-seen order.
std::vector<std::string> series_order(const std::vector<TaskEvalResult>& results, bool with_style) {
  std::vector<std::string> labels;
  for (const auto& r : results) {
    const auto label = series_label(r, with_style);
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
  }
  return labels;
}

const TaskEvalResult* find_result(const std::vector<TaskEvalResult>& results, const std::string& label, int budget,
                                  bool with_style) {
  for (const auto& r : results)
    if (r.budget == budget && series_label(r, with_style) == label) return &r;
  return nullptr;
}

// Budgets in report order: the info's, then any the results hold beyond them.
std::vector<int> report_budgets(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results) {
  std::vector<int> budgets = info.budgets;
  for (const auto& r : results)
    if (std::find(budgets.begin(), budgets.end(), r.budget) == budgets.end()) budgets.push_back(r.budget);
  return budgets;
}

// "| series | 0 | 16 | none |" with one cell per budget, `cell` formatting a result.
template <typename Cell>
std::string pivot_table(const std::vector<TaskEvalResult>& results, const std::vector<int>& budgets, bool with_style,
                        Cell cell) {
  std::string out = "| task@difficulty |";
  std::string rule = "|---|";
  for (int b : budgets) {
    out += " " + budget_label(b) + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  for (const auto& label : series_order(results, with_style)) {
    out += "| " + label + " |";
    for (int b : budgets) {
      const auto* r = find_result(results, label, b, with_style);
      out += " " + (r ? cell(*r) : std::string("–")) + " |";
    }
    out += "\n";
  }
  return out;
}

// "greedy", or "sampled (temperature 0.8, top-p 0.95)".
std::string decoding_label(const EvalReportInfo& info) {
  if (info.temperature <= 0.0) return "greedy";
  char text[80];
  std::snprintf(text, sizeof text, "sampled (temperature %g, top-p %g)", info.temperature, info.top_p);
  return text;
}

}  // namespace

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    const std::string item = trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> eval_modes() { return {"standard", "contemplating"}; }

void check_eval_mode(const std::string& mode) {
  const auto modes = eval_modes();
  if (std::find(modes.begin(), modes.end(), mode) != modes.end()) return;
  std::string known;
  for (const auto& m : modes) known += (known.empty() ? "" : ", ") + m;
  throw MuseError("mode '" + mode + "' is not available yet; known: " + known);
}

std::vector<int> parse_budgets(const std::string& list) {
  const auto items = split_list(list);
  if (items.empty()) throw MuseError("no thinking budgets given; e.g. --budgets 0,16,64,-1 (-1 or none: no limit)");
  std::vector<int> budgets;
  for (const auto& item : items) {
    int budget;
    if (item == "none") {
      budget = -1;
    } else {
      errno = 0;
      char* end = nullptr;
      const long long value = std::strtoll(item.c_str(), &end, 10);
      if (end == item.c_str() || *end != '\0')
        throw MuseError("thinking budget '" + item + "' is not a number (a token count, or -1 / none for no limit)");
      if (errno == ERANGE || value > INT_MAX || value < -1)
        throw MuseError("thinking budget '" + item + "' is out of range (0 to " + std::to_string(INT_MAX) +
                        " tokens, or -1 / none for no limit)");
      budget = static_cast<int>(value);
    }
    if (std::find(budgets.begin(), budgets.end(), budget) == budgets.end()) budgets.push_back(budget);
  }
  // Ascending, with "no limit" last: the order of the chart's x axis.
  std::sort(budgets.begin(), budgets.end(), [](int a, int b) {
    if (a == -1 || b == -1) return b == -1 && a != -1;
    return a < b;
  });
  return budgets;
}

std::string budget_label(int budget) { return budget < 0 ? "none" : std::to_string(budget); }

std::vector<std::string> parse_task_list(const std::string& list) {
  std::vector<std::string> names;
  for (const auto& name : split_list(list)) {
    make_task(name);  // MuseError naming the known tasks
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) {
    std::string known;
    for (const auto& name : task_names()) known += (known.empty() ? "" : ", ") + name;
    throw MuseError("no tasks given; known: " + known);
  }
  return names;
}

std::vector<PromptStyle> parse_prompt_styles(const std::string& list) {
  std::vector<PromptStyle> styles;
  for (const auto& name : split_list(list)) {
    const auto style = parse_prompt_style(name);
    if (std::find(styles.begin(), styles.end(), style) == styles.end()) styles.push_back(style);
  }
  if (styles.empty()) throw MuseError("no prompt style given; known: plain, chat");
  return styles;
}

std::string series_label(const TaskEvalResult& result, bool show_style) {
  std::string label = result.task + "@" + std::to_string(result.difficulty);
  if (show_style) label += " " + result.style;
  if (result.surface == "heldout") label += " held-out surface";
  if (result.blank_images) label += " blind";
  if (!result.tools) label += " tools off";
  return label;
}

std::string sweep_markdown(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results) {
  const bool with_style = show_styles(results);
  const auto budgets = report_budgets(info, results);
  std::string styles;
  for (const auto& r : results)
    if (styles.find(r.style) == std::string::npos) styles += (styles.empty() ? "" : ", ") + r.style;
  double cell_seconds = 0.0;
  int total_problems = 0;
  for (const auto& r : results) cell_seconds += r.seconds, total_problems += r.problems;
  const double total = info.total_seconds > 0 ? info.total_seconds : cell_seconds;

  std::string out = "# Held-out evaluation\n\n";
  out += "model `" + info.model + "` · mode " + info.mode + " · prompts " + (styles.empty() ? "plain" : styles) +
         " · " + std::to_string(info.problems) + " problems per cell · seed " + std::to_string(info.seed) +
         " · max tokens " + std::to_string(info.max_tokens);
  if (info.min_thinking_tokens > 0) out += " · min thinking tokens " + std::to_string(info.min_thinking_tokens);
  out += " · " + decoding_label(info) + "\n\n";
  out += "## Accuracy by thinking budget\n\n";
  out += pivot_table(results, budgets, with_style,
                     [](const TaskEvalResult& r) { return format("%.1f%%", 100.0 * r.accuracy); });
  out += "\n## Mean thinking tokens by thinking budget\n\n";
  out += pivot_table(results, budgets, with_style,
                     [](const TaskEvalResult& r) { return format("%.1f", r.mean_thinking_tokens); });
  out += "\n## All results\n\n";
  out += "| task | difficulty | prompts | budget | problems | accuracy | mean reward | thinking tokens | answer tokens "
         "| budget hit | stopped early | s/problem | seconds |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  char line[512];
  for (const auto& r : results) {
    const std::string prompts = r.style + (r.surface == "heldout" ? ", held-out surface" : "") +
                                (r.blank_images ? " (blank images)" : "") + (r.tools ? "" : ", tools off") +
                                (r.spawn ? ", sub-agents" : "") + (r.sequential ? ", one at a time" : "");
    std::snprintf(line, sizeof line,
                  "| %s | %d | %s | %s | %d | %.1f%% | %.3f | %.1f | %.1f | %.0f%% | %.0f%% | %.3f | %.1f |\n",
                  r.task.c_str(), r.difficulty, prompts.c_str(), budget_label(r.budget).c_str(), r.problems,
                  100.0 * r.accuracy, r.mean_reward, r.mean_thinking_tokens, r.mean_answer_tokens,
                  100.0 * r.budget_hit, 100.0 * r.stopped_early, r.seconds_per_problem, r.seconds);
    out += line;
  }
  const bool any_tool_use = std::any_of(results.begin(), results.end(), [](const TaskEvalResult& r) {
    return !r.tools || r.calls_per_problem > 0 || r.needs_tool > 0;
  });
  if (any_tool_use) out += "\n## Tool use\n\n" + tool_use_table_markdown(results);
  const std::string agents = agents_table_markdown(results);
  if (!agents.empty()) out += "\n## Sub-agents and latency (problems one at a time)\n\n" + agents;
  std::snprintf(line, sizeof line, "\nTotal: %.1f s for %d problems (%.3f s per problem).\n", total, total_problems,
                total_problems > 0 ? total / total_problems : 0.0);
  out += line;
  return out;
}

nlohmann::json sweep_json(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results) {
  nlohmann::json j;
  j["model"] = info.model;
  j["mode"] = info.mode;
  j["seed"] = info.seed;
  j["problems"] = info.problems;
  j["max_tokens"] = info.max_tokens;
  j["min_thinking_tokens"] = info.min_thinking_tokens;
  j["decoding"] = decoding_label(info);
  j["split"] = "heldout";
  j["budgets"] = report_budgets(info, results);
  double cell_seconds = 0.0;
  int total_problems = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : results) {
    cell_seconds += r.seconds;
    total_problems += r.problems;
    rows.push_back({{"task", r.task},
                    {"difficulty", r.difficulty},
                    {"modality", r.modality},
                    {"style", r.style},
                    {"surface", r.surface},
                    {"blank_images", r.blank_images},
                    {"budget", r.budget},
                    {"budget_label", budget_label(r.budget)},
                    {"min_thinking_tokens", r.min_thinking_tokens},
                    {"problems", r.problems},
                    {"accuracy", r.accuracy},
                    {"mean_reward", r.mean_reward},
                    {"mean_thinking_tokens", r.mean_thinking_tokens},
                    {"mean_answer_tokens", r.mean_answer_tokens},
                    {"mean_prompt_tokens", r.mean_prompt_tokens},
                    {"budget_hit", r.budget_hit},
                    {"stopped_early", r.stopped_early},
                    {"temperature", r.temperature},
                    {"tools", r.tools},
                    {"calls_per_problem", r.calls_per_problem},
                    {"needs_tool", r.needs_tool},
                    {"called_when_needed", std::isnan(r.called_when_needed) ? nlohmann::json() : nlohmann::json(r.called_when_needed)},
                    {"called_when_not_needed", std::isnan(r.called_when_not_needed) ? nlohmann::json() : nlohmann::json(r.called_when_not_needed)},
                    {"tool_errors", r.tool_errors},
                    {"spawn", r.spawn},
                    {"sequential", r.sequential},
                    {"deadline_s", r.deadline_s},
                    {"mean_latency_s", r.mean_latency_s},
                    {"p90_latency_s", r.p90_latency_s},
                    {"agents_per_problem", r.agents_per_problem},
                    {"spawns_per_problem", r.spawns_per_problem},
                    {"mean_total_tokens", r.mean_total_tokens},
                    {"seconds", r.seconds},
                    {"seconds_per_problem", r.seconds_per_problem}});
  }
  j["total_seconds"] = info.total_seconds > 0 ? info.total_seconds : cell_seconds;
  j["total_problems"] = total_problems;
  j["results"] = std::move(rows);
  return j;
}

LineChart sweep_chart(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results) {
  const bool with_style = show_styles(results);
  const auto budgets = report_budgets(info, results);
  LineChart chart;
  chart.title = "Held-out accuracy vs thinking budget" + (info.model.empty() ? "" : " — " + info.model) + " (" +
                info.mode + ")";
  chart.x_label = "thinking budget (tokens; none = no limit)";
  chart.y_label = "accuracy (%)";
  // Categorical x: budgets are equally spaced in their (ascending) order, which keeps 0 and "none" on the axis.
  chart.x_min = -0.5;
  chart.x_max = std::max<double>(0.5, static_cast<double>(budgets.size()) - 0.5);
  for (size_t i = 0; i < budgets.size(); ++i) chart.x_ticks.push_back({static_cast<double>(i), budget_label(budgets[i])});
  chart.y_min = 0.0;
  chart.y_max = 100.0;
  for (int y = 0; y <= 100; y += 20) chart.y_ticks.push_back({static_cast<double>(y), std::to_string(y) + "%"});
  for (const auto& label : series_order(results, with_style)) {
    PlotSeries series{label, {}};
    for (size_t i = 0; i < budgets.size(); ++i)
      if (const auto* r = find_result(results, label, budgets[i], with_style))
        series.points.push_back({static_cast<double>(i), 100.0 * r->accuracy});
    chart.series.push_back(std::move(series));
  }
  return chart;
}

std::string sweep_svg(const EvalReportInfo& info, const std::vector<TaskEvalResult>& results) {
  return render_line_chart_svg(sweep_chart(info, results));
}

}  // namespace muse

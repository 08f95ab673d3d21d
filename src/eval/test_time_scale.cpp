#include "eval/test_time_scale.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "eval/contemplate_eval.h"
#include "eval/svg_plot.h"
#include "eval/task_eval.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

void TestTimeScaleParams::validate() const {
  if (problems <= 0) throw MuseError("problems must be > 0, got " + std::to_string(problems));
  if (budgets.empty() && agents.empty()) throw MuseError("nothing to measure: no --budgets and no --agents");
  for (int b : budgets)
    if (b < -1) throw MuseError("thinking budget " + std::to_string(b) + ": expected >= 0 or -1 (no limit)");
  for (int a : agents)
    if (a < 1 || a > ContemplateParams::kMaxAgents)
      throw MuseError("agents " + std::to_string(a) + ": expected 1.." + std::to_string(ContemplateParams::kMaxAgents));
}

std::vector<TestTimePoint> run_test_time_scale(Engine& engine, const Tokenizer& tokenizer,
                                               const TestTimeScaleParams& p) {
  p.validate();
  const auto task = make_task(p.task);
  EvalParams eval;
  eval.problems = p.problems;
  eval.seed = p.seed;
  std::vector<TestTimePoint> points;
  for (int budget : p.budgets) {
    eval.max_thinking_tokens = budget;
    // One problem at a time, so seconds per problem is the latency a person waits.
    ContemplationEvalParams standard;
    standard.mode = AnswerMode::Standard;
    log_info("scale", "%s@%d Standard, thinking budget %d ...", p.task.c_str(), p.difficulty, budget);
    const auto r = evaluate_contemplating(engine, tokenizer, *task, p.difficulty, eval, standard);
    points.push_back({"budget", budget, r.accuracy, r.tokens_per_problem, r.seconds_per_problem});
  }
  eval.max_thinking_tokens = -1;
  for (int agents : p.agents) {
    ContemplationEvalParams run;
    run.mode = AnswerMode::Contemplating;
    run.contemplate.agents = agents;
    run.contemplate.synthesis = p.synthesis;
    run.contemplate.warmup = std::min(run.contemplate.warmup, agents);
    if (agents == 1) run.contemplate.temperature = 0.0;  // one agent is Standard's greedy agent
    log_info("scale", "%s@%d Contemplating, %d agents ...", p.task.c_str(), p.difficulty, agents);
    const auto r = evaluate_contemplating(engine, tokenizer, *task, p.difficulty, eval, run);
    points.push_back({"agents", agents, r.accuracy, r.tokens_per_problem, r.seconds_per_problem});
  }
  return points;
}

namespace {

LineChart base_chart(const std::string& title, const std::string& x_label) {
  LineChart c;
  c.title = title;
  c.x_label = x_label;
  c.y_label = "accuracy (%)";
  c.y_min = 0, c.y_max = 100;
  for (int y = 0; y <= 100; y += 20) c.y_ticks.push_back({static_cast<double>(y), std::to_string(y)});
  return c;
}

}  // namespace

void write_test_time_scale(const std::vector<TestTimePoint>& points, const TestTimeScaleParams& p,
                           const std::string& out_dir) {
  fs::create_directories(out_dir);
  std::string csv = "axis,value,accuracy,tokens_per_problem,seconds_per_problem\n";
  nlohmann::json json = {{"task", p.task}, {"difficulty", p.difficulty}, {"problems", p.problems},
                         {"synthesis", synthesis_name(p.synthesis)}, {"points", nlohmann::json::array()}};
  for (const auto& pt : points) {
    char line[160];
    std::snprintf(line, sizeof line, "%s,%d,%.4f,%.1f,%.4f\n", pt.axis.c_str(), pt.value, pt.accuracy,
                  pt.tokens_per_problem, pt.seconds_per_problem);
    csv += line;
    json["points"].push_back({{"axis", pt.axis}, {"value", pt.value}, {"accuracy", pt.accuracy},
                              {"tokens_per_problem", pt.tokens_per_problem},
                              {"seconds_per_problem", pt.seconds_per_problem}});
  }
  write_file_atomic((fs::path(out_dir) / "scale_test_time.csv").string(), csv);
  write_file_atomic((fs::path(out_dir) / "scale_test_time.json").string(), json.dump(2));
  const std::string cell = p.task + "@" + std::to_string(p.difficulty);

  // Accuracy against the budget: one point per budget in order (the last, "no limit", at the far right).
  LineChart budget = base_chart("Standard: accuracy vs thinking budget, " + cell, "thinking budget (tokens)");
  PlotSeries standard{"Standard (greedy)", {}};
  int i = 0;
  for (const auto& pt : points)
    if (pt.axis == "budget") {
      standard.points.emplace_back(i, 100.0 * pt.accuracy);
      budget.x_ticks.push_back({static_cast<double>(i++), pt.value < 0 ? "none" : std::to_string(pt.value)});
    }
  budget.x_max = std::max(1, i - 1);
  budget.series = {standard};
  if (i > 0) write_file_atomic((fs::path(out_dir) / "scale_test_time_budget.svg").string(), render_line_chart_svg(budget));

  LineChart agents = base_chart("Contemplating (" + std::string(synthesis_name(p.synthesis)) +
                                    "): accuracy vs agents, " + cell,
                                "agents (log2)");
  PlotSeries contemplating{"Contemplating", {}};
  double most = 1;
  for (const auto& pt : points)
    if (pt.axis == "agents") {
      contemplating.points.emplace_back(std::log2(pt.value), 100.0 * pt.accuracy);
      most = std::max(most, std::log2(pt.value));
    }
  for (int e = 0; e <= static_cast<int>(most); ++e) agents.x_ticks.push_back({static_cast<double>(e), std::to_string(1 << e)});
  agents.x_max = std::max(1.0, most);
  agents.series = {contemplating};
  if (!contemplating.points.empty())
    write_file_atomic((fs::path(out_dir) / "scale_test_time_agents.svg").string(), render_line_chart_svg(agents));

  // Both against wall time per problem (x: log2 seconds).
  LineChart seconds = base_chart("Accuracy vs wall time per problem, " + cell, "seconds per problem (log2)");
  PlotSeries by_budget{"Standard, budgets", {}}, by_agents{"Contemplating, agents", {}};
  double lo = 1e300, hi = -1e300;
  for (const auto& pt : points) {
    const double x = std::log2(std::max(1e-4, pt.seconds_per_problem));
    (pt.axis == "budget" ? by_budget : by_agents).points.emplace_back(x, 100.0 * pt.accuracy);
    lo = std::min(lo, x), hi = std::max(hi, x);
  }
  if (lo > hi) return;
  lo = std::floor(lo), hi = std::ceil(hi);
  if (hi <= lo) hi = lo + 1;
  for (int e = static_cast<int>(lo); e <= static_cast<int>(hi); ++e) {
    char label[32];
    std::snprintf(label, sizeof label, "%g", std::pow(2.0, e));
    seconds.x_ticks.push_back({static_cast<double>(e), label});
  }
  seconds.x_min = lo, seconds.x_max = hi;
  for (auto* s : {&by_budget, &by_agents})
    if (!s->points.empty()) seconds.series.push_back(*s);
  write_file_atomic((fs::path(out_dir) / "scale_test_time_seconds.svg").string(), render_line_chart_svg(seconds));
}

}  // namespace muse

// Reports of budget sweeps (Markdown, JSON, SVG) and the checks `muse eval` makes before it loads a model.
#include "eval/eval_report.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "util/error.h"

using namespace muse;

namespace {

TaskEvalResult result(const std::string& task, int difficulty, int budget, double accuracy,
                      const std::string& style = "plain", bool blind = false) {
  TaskEvalResult r;
  r.task = task;
  r.difficulty = difficulty;
  r.problems = 20;
  r.accuracy = accuracy;
  r.mean_reward = accuracy;
  r.mean_thinking_tokens = budget < 0 ? 30.0 : budget * 0.5;
  r.mean_answer_tokens = 4.0;
  r.seconds = 2.0;
  r.seconds_per_problem = 0.1;
  r.blank_images = blind;
  r.modality = "text";
  r.budget = budget;
  r.style = style;
  r.budget_hit = budget < 0 ? 0.0 : 0.5;
  r.mean_prompt_tokens = 12.0;
  return r;
}

std::vector<TaskEvalResult> sweep() {
  std::vector<TaskEvalResult> rs;
  for (int b : {0, 16, -1}) rs.push_back(result("add", 2, b, b == 0 ? 0.10 : b == 16 ? 0.55 : 0.95));
  for (int b : {0, 16, -1}) rs.push_back(result("countdown", 3, b, b == 0 ? 0.0 : 0.2));
  rs.push_back(result("add", 2, 0, 0.05, "chat"));  // a chat cell with no other budgets
  return rs;
}

EvalReportInfo info() {
  EvalReportInfo i;
  i.model = "models/<test>";
  i.seed = 7;
  i.problems = 20;
  i.max_tokens = 200;
  i.budgets = {0, 16, -1};
  i.total_seconds = 15.5;
  return i;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(EvalReport, ParsesBudgets) {
  EXPECT_EQ(parse_budgets("0,16,64,256"), (std::vector<int>{0, 16, 64, 256}));
  EXPECT_EQ(parse_budgets("-1, 64,0,none,64"), (std::vector<int>{0, 64, -1}));  // ascending, no limit last
  EXPECT_EQ(parse_budgets("-1"), (std::vector<int>{-1}));
  EXPECT_EQ(budget_label(-1), "none");
  EXPECT_EQ(budget_label(32), "32");
  EXPECT_NE(message_of([] { parse_budgets("5,x"); }).find("'x' is not a number"), std::string::npos);
  EXPECT_NE(message_of([] { parse_budgets("-5"); }).find("'-5'"), std::string::npos);
  EXPECT_THROW(parse_budgets("-2"), MuseError);
  EXPECT_THROW(parse_budgets("1.5"), MuseError);
  EXPECT_THROW(parse_budgets("16k"), MuseError);
  EXPECT_THROW(parse_budgets("99999999999"), MuseError);
  EXPECT_THROW(parse_budgets(""), MuseError);
  EXPECT_THROW(parse_budgets(" , "), MuseError);
}

TEST(EvalReport, ChecksModeTasksAndStyles) {
  EXPECT_NO_THROW(check_eval_mode("standard"));
  EXPECT_NO_THROW(check_eval_mode("contemplating"));
  EXPECT_EQ(message_of([] { check_eval_mode("deep"); }),
            "mode 'deep' is not available yet; known: standard, contemplating");
  EXPECT_EQ(parse_task_list("add, countdown,add"), (std::vector<std::string>{"add", "countdown"}));
  EXPECT_NE(message_of([] { parse_task_list(""); }).find("no tasks given"), std::string::npos);
  EXPECT_THROW(parse_task_list(" , ,"), MuseError);
  EXPECT_NE(message_of([] { parse_task_list("add,nosuch"); }).find("nosuch"), std::string::npos);
  EXPECT_EQ(parse_prompt_styles("plain,chat"), (std::vector<PromptStyle>{PromptStyle::Plain, PromptStyle::Chat}));
  EXPECT_EQ(parse_prompt_styles("chat"), (std::vector<PromptStyle>{PromptStyle::Chat}));
  EXPECT_NE(message_of([] { parse_prompt_styles("fancy"); }).find("'fancy'"), std::string::npos);
  EXPECT_THROW(parse_prompt_styles(""), MuseError);
}

TEST(EvalReport, JsonHasEveryField) {
  const auto rs = sweep();
  const auto j = nlohmann::json::parse(sweep_json(info(), rs).dump());  // survives a round trip
  for (const char* key : {"model", "mode", "seed", "problems", "max_tokens", "min_thinking_tokens", "decoding",
                          "split", "budgets", "total_seconds", "total_problems", "results"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["mode"], "standard");
  EXPECT_EQ(j["budgets"], nlohmann::json::array({0, 16, -1}));
  EXPECT_EQ(j["total_seconds"], 15.5);
  EXPECT_EQ(j["total_problems"], 140);
  ASSERT_EQ(j["results"].size(), rs.size());
  const std::vector<std::string> fields = {
      "task", "difficulty", "modality", "style", "surface", "blank_images", "budget", "budget_label", "min_thinking_tokens",
      "problems", "accuracy", "mean_reward", "mean_thinking_tokens", "mean_answer_tokens", "mean_prompt_tokens",
      "budget_hit", "stopped_early", "temperature", "tools", "calls_per_problem", "needs_tool", "called_when_needed",
      "called_when_not_needed", "tool_errors", "spawn", "sequential", "deadline_s", "mean_latency_s", "p90_latency_s",
      "agents_per_problem", "spawns_per_problem", "mean_total_tokens", "seconds", "seconds_per_problem"};
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto& row = j["results"][i];
    for (const auto& f : fields) EXPECT_TRUE(row.contains(f)) << "result " << i << " lacks " << f;
    EXPECT_EQ(row.size(), fields.size());
    EXPECT_EQ(row["task"], rs[i].task);
    EXPECT_EQ(row["budget"], rs[i].budget);
    EXPECT_EQ(row["budget_label"], budget_label(rs[i].budget));
    EXPECT_EQ(row["accuracy"], rs[i].accuracy);
    EXPECT_EQ(row["style"], rs[i].style);
    EXPECT_EQ(row["seconds_per_problem"], rs[i].seconds_per_problem);
  }
}

TEST(EvalReport, MarkdownTablesPerBudget) {
  const auto md = sweep_markdown(info(), sweep());
  // The pivot: one column per budget, one row per task@difficulty (and style, as a chat cell is present).
  EXPECT_NE(md.find("| task@difficulty | 0 | 16 | none |"), std::string::npos) << md;
  EXPECT_NE(md.find("| add@2 plain | 10.0% | 55.0% | 95.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| countdown@3 plain | 0.0% | 20.0% | 20.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| add@2 chat | 5.0% | – | – |"), std::string::npos) << md;
  EXPECT_NE(md.find("| add@2 plain | 0.0 | 8.0 | 30.0 |"), std::string::npos) << md;  // thinking tokens
  // Every result in full, with its latency, and the total.
  EXPECT_NE(md.find("| add | 2 | plain | 16 | 20 | 55.0% | 0.550 | 8.0 | 4.0 | 50% | 0% | 0.100 | 2.0 |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("Total: 15.5 s for 140 problems"), std::string::npos) << md;
  EXPECT_NE(md.find("mode standard"), std::string::npos);
  // Without chat cells, labels are just task@difficulty.
  std::vector<TaskEvalResult> plain = sweep();
  plain.pop_back();
  const auto md_plain = sweep_markdown(info(), plain);
  EXPECT_NE(md_plain.find("| add@2 | 10.0% | 55.0% | 95.0% |"), std::string::npos) << md_plain;
}

TEST(EvalReport, ChartHasOneLinePerSeriesOverTheBudgets) {
  const auto chart = sweep_chart(info(), sweep());
  ASSERT_EQ(chart.series.size(), 3u);
  EXPECT_EQ(chart.series[0].name, "add@2 plain");
  ASSERT_EQ(chart.series[0].points.size(), 3u);
  EXPECT_DOUBLE_EQ(chart.series[0].points[2].second, 95.0);
  EXPECT_EQ(chart.series[2].points.size(), 1u);
  ASSERT_EQ(chart.x_ticks.size(), 3u);
  EXPECT_EQ(chart.x_ticks[0].label, "0");
  EXPECT_EQ(chart.x_ticks[2].label, "none");
  EXPECT_EQ(chart.y_min, 0.0);
  EXPECT_EQ(chart.y_max, 100.0);
  const auto svg = sweep_svg(info(), sweep());
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 3u);
  EXPECT_NE(svg.find("models/&lt;test&gt;"), std::string::npos);  // the model name is escaped in the title
  EXPECT_EQ(svg.find("<test>"), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

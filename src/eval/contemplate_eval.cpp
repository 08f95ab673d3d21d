#include "eval/contemplate_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "util/format.h"

namespace muse {

ContemplationEvalResult evaluate_contemplating(Engine& engine, const Tokenizer& tokenizer, const Task& task,
                                               int difficulty, const EvalParams& params,
                                               const ContemplationEvalParams& contemplation) {
  params.validate();
  const auto start = std::chrono::steady_clock::now();
  const auto [examples, prompts] = eval_prompts(tokenizer, task, difficulty, params, engine.config());
  ContemplateParams cp = contemplation.contemplate;
  const bool standard = contemplation.mode == AnswerMode::Standard;
  if (standard) {
    cp.agents = 1;
    cp.synthesis = Synthesis::Vote;
    cp.temperature = 0;
  }
  RequestParams request = eval_request(tokenizer, params);  // temperatures: the agents' own
  std::vector<Contemplator> contemplators;
  std::vector<Prompt> inputs;
  const VisionParams vision = vision_params(engine.config());
  for (size_t i = 0; i < examples.size(); ++i) {
    request.sampling.seed = seed_mix(params.seed, i, 0xc07e);
    const auto attachments = params.blank_images ? blank_images_of(examples[i].prompt) : examples[i].prompt;
    const ToolUseParams use = params.tool_use;
    contemplators.emplace_back(tokenizer, cp, request, [attachments, vision, use, &tokenizer](int) {
      return ToolRunner(tokenizer, builtin_tools(), tool_context_for(attachments, vision), use);
    });
    inputs.push_back(Prompt::of(prompts[i]));
  }
  const auto runs = run_contemplations(engine, contemplators, inputs, contemplation.concurrency);

  ContemplationEvalResult r;
  r.task = task.name();
  r.difficulty = difficulty;
  r.problems = static_cast<int>(examples.size());
  r.mode = answer_mode_name(contemplation.mode);
  r.agents = cp.agents;
  r.synthesis = standard ? "greedy" : synthesis_name(cp.synthesis);
  r.concurrency = contemplation.concurrency;
  int64_t agents_run = 0, stopped = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& c = runs[i];
    r.accuracy += c.winner >= 0 && task.verify(examples[i], c.answer) >= 1.0 ? 1.0 : 0.0;
    bool any = false;
    for (const auto& a : c.agents) {
      any = any || (a.stop == AgentStop::Finished && task.verify(examples[i], a.answer) >= 1.0);
      stopped += a.stop == AgentStop::LowConfidence || a.stop == AgentStop::Consensus ? 1 : 0;
    }
    r.any_agent_right += any ? 1.0 : 0.0;
    r.tokens_per_problem += static_cast<double>(c.tokens);
    agents_run += static_cast<int64_t>(c.agents.size());
    r.consensus_share += c.consensus_stop ? 1.0 : 0.0;
    r.mean_support += c.support;
  }
  const double n = std::max(1, r.problems);
  r.accuracy /= n;
  r.any_agent_right /= n;
  r.tokens_per_problem /= n;
  r.agents_per_problem = static_cast<double>(agents_run) / n;
  r.stopped_share = agents_run > 0 ? static_cast<double>(stopped) / static_cast<double>(agents_run) : 0.0;
  r.consensus_share /= n;
  r.mean_support /= n;
  r.seconds_per_problem = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / n;
  return r;
}

std::string contemplation_table_markdown(const std::vector<ContemplationEvalResult>& results) {
  std::ostringstream out;
  out << "| task | difficulty | mode | agents | synthesis | accuracy | any agent right | tokens/problem | s/problem | "
         "agents run | stopped | consensus stop |\n"
         "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : results)
    out << "| " << r.task << " | " << r.difficulty << " | " << r.mode << " | " << r.agents << " | " << r.synthesis
        << " | " << format_fixed(100 * r.accuracy, 1) << "% | " << format_fixed(100 * r.any_agent_right, 1) << "% | "
        << format_fixed(r.tokens_per_problem, 0) << " | " << format_fixed(r.seconds_per_problem, 3) << " | "
        << format_fixed(r.agents_per_problem, 1) << " | " << format_fixed(100 * r.stopped_share, 0) << "% | "
        << format_fixed(100 * r.consensus_share, 0) << "% |\n";
  return out.str();
}

nlohmann::json contemplation_json(const std::vector<ContemplationEvalResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : results)
    out.push_back({{"task", r.task}, {"difficulty", r.difficulty}, {"problems", r.problems}, {"mode", r.mode},
                   {"agents", r.agents}, {"synthesis", r.synthesis}, {"concurrency", r.concurrency},
                   {"accuracy", r.accuracy}, {"any_agent_right", r.any_agent_right},
                   {"tokens_per_problem", r.tokens_per_problem}, {"seconds_per_problem", r.seconds_per_problem},
                   {"agents_per_problem", r.agents_per_problem}, {"stopped_share", r.stopped_share},
                   {"consensus_share", r.consensus_share}, {"mean_support", r.mean_support}});
  return out;
}

LineChart contemplation_chart(const std::vector<ContemplationEvalResult>& results, bool against_seconds) {
  LineChart chart;
  chart.title = against_seconds ? "Accuracy against wall time per problem" : "Accuracy against tokens per problem";
  chart.x_label = against_seconds ? "seconds per problem (log scale)" : "tokens per problem (log scale)";
  chart.y_label = "accuracy (%)";
  std::map<std::string, PlotSeries> series;
  std::vector<std::string> order;
  double lo = 1e300, hi = -1e300;
  for (const auto& r : results) {
    const double x = against_seconds ? r.seconds_per_problem : r.tokens_per_problem;
    if (!(x > 0)) continue;
    const std::string name = r.task + "@" + std::to_string(r.difficulty) + " " +
                             (r.mode == "standard" ? std::string("standard") : r.synthesis);
    if (!series.count(name)) order.push_back(name);
    auto& s = series[name];
    s.name = name;
    s.points.emplace_back(std::log2(x), 100 * r.accuracy);
    lo = std::min(lo, std::log2(x));
    hi = std::max(hi, std::log2(x));
  }
  if (order.empty()) {
    lo = 0;
    hi = 1;
  }
  chart.x_min = std::floor(lo) - 0.25;
  chart.x_max = std::ceil(hi) + 0.25;
  if (chart.x_max - chart.x_min < 1) chart.x_max = chart.x_min + 1;
  for (int e = static_cast<int>(std::ceil(chart.x_min)); e <= static_cast<int>(std::floor(chart.x_max)); ++e) {
    const double v = std::pow(2.0, e);
    chart.x_ticks.push_back({static_cast<double>(e), v >= 1 ? format_fixed(v, 0) : format_fixed(v, 3)});
  }
  for (int y = 0; y <= 100; y += 20) chart.y_ticks.push_back({static_cast<double>(y), std::to_string(y)});
  chart.y_min = 0;
  chart.y_max = 100;
  for (const auto& name : order) {
    auto s = series[name];
    std::sort(s.points.begin(), s.points.end());
    chart.series.push_back(std::move(s));
  }
  return chart;
}

}  // namespace muse

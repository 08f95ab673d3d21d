#include "training/rl/curves.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "eval/svg_plot.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

namespace {

using Points = std::vector<std::pair<double, double>>;

// series name -> (step, value) for every line holding `key` (negative values: "none", e.g. no wrong answers).
Points series_of(const std::vector<nlohmann::json>& lines, const char* key) {
  Points points;
  for (const auto& line : lines)
    if (line.contains(key) && line[key].is_number() && line.contains("step")) {
      const double v = line[key].get<double>();
      if (v >= 0 || std::string(key) == "reward") points.emplace_back(line["step"].get<double>(), v);
    }
  return points;
}

std::string chart(const std::string& title, const std::string& y_label, std::vector<PlotSeries> series) {
  LineChart c;
  c.title = title;
  c.x_label = "RL step";
  c.y_label = y_label;
  double x_lo = 0, x_hi = 1, y_lo = std::numeric_limits<double>::max(), y_hi = std::numeric_limits<double>::lowest();
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  if (y_lo > y_hi) y_lo = 0, y_hi = 1;
  y_lo = std::min(y_lo, 0.0);
  c.x_ticks = nice_ticks(x_lo, x_hi, 8);
  c.y_ticks = nice_ticks(y_lo, y_hi, 5);
  c.x_min = x_lo, c.x_max = x_hi, c.y_min = y_lo, c.y_max = y_hi;
  series.erase(std::remove_if(series.begin(), series.end(), [](const PlotSeries& s) { return s.points.empty(); }),
               series.end());
  c.series = std::move(series);
  return render_line_chart_svg(c);
}

}  // namespace

std::vector<std::string> write_rl_curves(const std::string& run_dir) {
  const auto path = (fs::path(run_dir) / "metrics.jsonl").string();
  std::ifstream in(path);
  if (!in) throw file_error(path, "missing: not a training run directory");
  std::vector<nlohmann::json> steps, evals;
  int number = 0;
  for (std::string text; std::getline(in, text);) {
    ++number;
    if (text.empty()) continue;
    nlohmann::json line;
    try {
      line = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw file_error(path, "line " + std::to_string(number) + " is not JSON: " + e.what());
    }
    if (line.contains("rollout_digest")) steps.push_back(line);
    if (line.contains("heldout_accuracy")) evals.push_back(line);
  }
  if (steps.empty()) throw file_error(path, "has no RL steps (is this an RL run? muse rl writes them)");

  const fs::path dir = fs::path(run_dir) / "curves";
  fs::create_directories(dir);
  std::vector<std::string> written;
  auto write = [&](const char* name, const std::string& svg) {
    const auto file = (dir / name).string();
    write_file_atomic(file, svg);
    written.push_back(file);
  };
  write("reward.svg", chart("Reward and accuracy", "reward / share right",
                            {{"rollout reward", series_of(steps, "reward")},
                             {"rollouts right", series_of(steps, "accuracy")},
                             {"held-out accuracy (greedy)", series_of(evals, "heldout_accuracy")},
                             {"held-out accuracy (sampled)", series_of(evals, "sampled_accuracy")}}));
  write("thinking.svg", chart("Thinking length", "thinking tokens",
                              {{"right rollouts", series_of(steps, "thinking_right")},
                               {"wrong rollouts", series_of(steps, "thinking_wrong")},
                               {"held-out answers (greedy)", series_of(evals, "heldout_thinking")},
                               {"held-out answers (sampled)", series_of(evals, "sampled_thinking")}}));
  write("health.svg", chart("Run health", "nats / share",
                            {{"entropy", series_of(steps, "entropy")},
                             {"clip fraction", series_of(steps, "clip_fraction")},
                             {"zero-variance groups", series_of(steps, "zero_variance_groups")},
                             {"truncated", series_of(steps, "truncation_rate")},
                             {"repetitive", series_of(steps, "repetition_rate")},
                             {"tool use", series_of(steps, "tool_use")}}));
  return written;
}

}  // namespace muse

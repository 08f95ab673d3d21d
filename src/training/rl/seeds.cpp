#include "training/rl/seeds.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "eval/svg_plot.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

std::vector<RlSeedPoint> rl_eval_points(const std::string& run_dir, uint64_t seed) {
  const auto path = (fs::path(run_dir) / "metrics.jsonl").string();
  std::ifstream in(path);
  if (!in) throw file_error(path, "missing");
  std::vector<RlSeedPoint> points;
  for (std::string text; std::getline(in, text);) {
    if (text.empty()) continue;
    const auto line = nlohmann::json::parse(text, nullptr, false);
    if (line.is_discarded()) throw file_error(path, "a line is not JSON");
    if (!line.contains("heldout_accuracy")) continue;
    RlSeedPoint p;
    p.seed = seed;
    p.step = line.value("step", int64_t{0});
    p.greedy_accuracy = line.value("heldout_accuracy", 0.0);
    p.sampled_accuracy = line.value("sampled_accuracy", 0.0);
    p.greedy_thinking = line.value("heldout_thinking", 0.0);
    p.sampled_thinking = line.value("sampled_thinking", 0.0);
    points.push_back(p);
  }
  return points;
}

namespace {

std::string seeds_chart(const std::vector<RlSeedPoint>& points, const std::vector<uint64_t>& seeds, bool thinking) {
  LineChart chart;
  chart.title = thinking ? "Thinking length over RL (held-out, greedy and sampled)"
                         : "Held-out accuracy over RL (greedy and sampled)";
  chart.x_label = "RL step";
  chart.y_label = thinking ? "thinking tokens" : "accuracy (%)";
  double x_lo = 0, x_hi = 1, y_lo = thinking ? 0 : 0, y_hi = thinking ? 1 : 10;
  for (uint64_t seed : seeds)
    for (bool sampled : {false, true}) {
      PlotSeries s;
      s.name = "seed " + std::to_string(seed) + (sampled ? " sampled" : " greedy");
      for (const auto& p : points) {
        if (p.seed != seed) continue;
        const double y = thinking ? (sampled ? p.sampled_thinking : p.greedy_thinking)
                                  : 100.0 * (sampled ? p.sampled_accuracy : p.greedy_accuracy);
        s.points.emplace_back(static_cast<double>(p.step), y);
        x_hi = std::max(x_hi, static_cast<double>(p.step));
        y_hi = std::max(y_hi, y);
      }
      if (!s.points.empty()) chart.series.push_back(std::move(s));
    }
  chart.x_ticks = nice_ticks(x_lo, x_hi, 8);
  chart.y_ticks = nice_ticks(y_lo, y_hi, 5);
  chart.x_min = x_lo, chart.x_max = x_hi, chart.y_min = y_lo, chart.y_max = y_hi;
  return render_line_chart_svg(chart);
}

}  // namespace

std::vector<RlSeedPoint> run_rl_seeds(const RlParams& base, const std::vector<uint64_t>& seeds,
                                      const std::string& out_dir) {
  if (seeds.empty()) throw MuseError("--seeds: at least one seed");
  if (out_dir.empty()) throw MuseError("--out is required");
  std::vector<RlSeedPoint> points;
  for (uint64_t seed : seeds) {
    RlParams p = base;
    p.seed = seed;
    p.out_dir = (fs::path(out_dir) / ("seed-" + std::to_string(seed))).string();
    const bool finished = fs::exists(fs::path(p.out_dir) / "model.safetensors");
    if (!finished) {
      p.resume = base.resume && fs::exists(fs::path(p.out_dir) / "checkpoints");
      log_info("scale", "RL seed %llu into %s", static_cast<unsigned long long>(seed), p.out_dir.c_str());
      rl(p);
    }
    for (const auto& point : rl_eval_points(p.out_dir, seed)) points.push_back(point);
  }
  std::string csv = "seed,step,greedy_accuracy,sampled_accuracy,greedy_thinking,sampled_thinking\n";
  nlohmann::json json = nlohmann::json::array();
  for (const auto& p : points) {
    char line[160];
    std::snprintf(line, sizeof line, "%llu,%lld,%.4f,%.4f,%.2f,%.2f\n", static_cast<unsigned long long>(p.seed),
                  static_cast<long long>(p.step), p.greedy_accuracy, p.sampled_accuracy, p.greedy_thinking,
                  p.sampled_thinking);
    csv += line;
    json.push_back({{"seed", p.seed}, {"step", p.step}, {"greedy_accuracy", p.greedy_accuracy},
                    {"sampled_accuracy", p.sampled_accuracy}, {"greedy_thinking", p.greedy_thinking},
                    {"sampled_thinking", p.sampled_thinking}});
  }
  fs::create_directories(out_dir);
  write_file_atomic((fs::path(out_dir) / "scale_rl.csv").string(), csv);
  write_file_atomic((fs::path(out_dir) / "scale_rl.json").string(), json.dump(2));
  write_file_atomic((fs::path(out_dir) / "scale_rl_accuracy.svg").string(), seeds_chart(points, seeds, false));
  write_file_atomic((fs::path(out_dir) / "scale_rl_thinking.svg").string(), seeds_chart(points, seeds, true));
  return points;
}

}  // namespace muse

#include "training/scale.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "eval/svg_plot.h"
#include "model/config.h"
#include "training/pretrain.h"
#include "training/pretrain_data.h"
#include "training/recipe.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/log.h"

namespace muse {
namespace fs = std::filesystem;

std::string ScaleRung::name() const { return "d" + std::to_string(d_model) + "-l" + std::to_string(n_layers); }

std::vector<ScaleRung> parse_rungs(const std::string& spec) {
  std::vector<ScaleRung> rungs;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t end = std::min(spec.find(',', start), spec.size());
    const std::string entry = spec.substr(start, end - start);
    const size_t x = entry.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("no x");
      size_t used = 0;
      ScaleRung r;
      r.d_model = std::stoll(entry.substr(0, x), &used);
      if (used != x) throw std::invalid_argument("width");
      r.n_layers = std::stoll(entry.substr(x + 1), &used);
      if (used != entry.size() - x - 1) throw std::invalid_argument("depth");
      if (r.d_model < 16 || r.d_model % 16 != 0 || r.n_layers < 1 || r.n_layers > 48)
        throw std::invalid_argument("range");
      rungs.push_back(r);
    } catch (const std::exception&) {
      throw MuseError("rung '" + entry + "': expected WIDTHxDEPTH, the width a multiple of 16, depth 1-48 (e.g. 64x2)");
    }
    start = end + 1;
  }
  return rungs;
}

void PretrainLadderParams::validate() const {
  if (out_dir.empty()) throw MuseError("--out is required");
  if (rungs.size() < 2) throw MuseError("a ladder needs at least 2 rungs, got " + std::to_string(rungs.size()));
  if (!(tokens_per_parameter > 0))
    throw MuseError("tokens per parameter must be > 0, got " + std::to_string(tokens_per_parameter));
  if (batch_size <= 0 || seq_len <= 0) throw MuseError("batch size and sequence length must be > 0");
  if (eval_problems < 0) throw MuseError("eval problems must be >= 0, got " + std::to_string(eval_problems));
  parse_mixture(mixture);
}

double LogLinearFit::at(double x) const { return intercept + slope * std::log10(x); }

LogLinearFit fit_log_linear(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size() || x.size() < 2) throw MuseError("a fit needs at least 2 points (x and y alike)");
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0)) throw MuseError("a log-linear fit needs x > 0");
    mx += std::log10(x[i]) / n;
    my += y[i] / n;
  }
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = std::log10(x[i]) - mx, dy = y[i] - my;
    sxx += dx * dx, sxy += dx * dy, syy += dy * dy;
  }
  LogLinearFit fit;
  fit.slope = sxx > 0 ? sxy / sxx : 0.0;
  fit.intercept = my - fit.slope * mx;
  double residual = 0;
  for (size_t i = 0; i < x.size(); ++i) residual += std::pow(y[i] - fit.at(x[i]), 2);
  fit.r2 = syy > 0 ? 1.0 - residual / syy : 1.0;
  return fit;
}

namespace {

ModelConfig rung_config(const ScaleRung& r, int64_t seq_len) {
  ModelConfig c;
  c.preset = "scale-" + r.name();
  c.d_model = r.d_model;
  c.n_layers = r.n_layers;
  const int64_t head_dim = r.d_model <= 64 ? 16 : 32;
  c.n_heads = std::max<int64_t>(1, r.d_model / head_dim);
  c.n_kv_heads = c.n_heads;
  c.ffn_hidden = 3 * r.d_model;
  c.max_seq_len = seq_len;
  c.patch_size = 0;  // text tasks: no patch projection among the parameters counted
  const int64_t pairs = (r.d_model / c.n_heads) / 2;
  c.mrope_sections = {pairs / 2, pairs / 4, pairs - pairs / 2 - pairs / 4};
  return c;
}

// What a finished rung left behind (rung.json), read back on a resumed ladder.
nlohmann::json point_json(const LadderPoint& p) {
  return {{"name", p.name},     {"parameters", p.parameters}, {"tokens", p.tokens},  {"flops", p.flops},
          {"heldout_loss", p.heldout_loss}, {"accuracy", p.accuracy}, {"seconds", p.seconds}};
}
LadderPoint point_from(const nlohmann::json& j) {
  LadderPoint p;
  p.name = j.at("name");
  p.parameters = j.at("parameters");
  p.tokens = j.at("tokens");
  p.flops = j.at("flops");
  p.heldout_loss = j.at("heldout_loss");
  p.accuracy = j.at("accuracy");
  p.seconds = j.at("seconds");
  return p;
}

std::string ladder_svg(const LadderResult& r) {
  LineChart chart;
  char title[160];
  std::snprintf(title, sizeof title, "Pretraining ladder: held-out loss ~ C^%.2f (R² %.3f)", r.loss_power_fit.slope,
                r.loss_power_fit.r2);
  chart.title = title;
  chart.x_label = "training FLOPs (log10)";
  chart.y_label = "held-out loss (log10)";
  PlotSeries measured{"measured", {}}, fit{"power-law fit", {}};
  double x_lo = 1e300, x_hi = -1e300, y_lo = 1e300, y_hi = -1e300;
  for (const auto& p : r.points) {
    const double x = std::log10(p.flops), y = std::log10(std::max(p.heldout_loss, 1e-9));
    measured.points.emplace_back(x, y);
    x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
    y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  }
  for (double x : {x_lo, x_hi}) {
    const double y = r.loss_power_fit.at(std::pow(10.0, x));
    fit.points.emplace_back(x, y);
    y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
  }
  x_lo = std::floor(x_lo * 2) / 2, x_hi = std::ceil(x_hi * 2) / 2;
  chart.x_ticks = nice_ticks(x_lo, x_hi, 6);
  chart.y_ticks = nice_ticks(y_lo, y_hi, 5);
  chart.x_min = x_lo, chart.x_max = x_hi, chart.y_min = y_lo, chart.y_max = y_hi;
  chart.series = {measured, fit};
  return render_line_chart_svg(chart);
}

}  // namespace

LadderResult run_pretrain_ladder(const PretrainLadderParams& p) {
  p.validate();
  const fs::path out(p.out_dir);
  fs::create_directories(out);
  const std::string tokenizer = (out / "tokenizer.model").string();
  if (!fs::exists(tokenizer)) {
    TokenizerTrainParams tok;
    tok.vocab_size = p.tokenizer_vocab;
    train_tokenizer_for_mixture(p.mixture, {}, tok, 4000, p.seed, p.out_dir);
  }
  LadderResult result;
  for (const auto& rung : p.rungs) {
    const fs::path dir = out / ("rung-" + rung.name());
    const auto summary = (dir / "rung.json").string();
    if (fs::exists(summary)) {
      result.points.push_back(point_from(nlohmann::json::parse(read_file(summary))));
      log_info("scale", "%s: done before (held-out loss %.4f)", rung.name().c_str(), result.points.back().heldout_loss);
      continue;
    }
    fs::create_directories(dir);
    const std::string rung_tokenizer = (dir / "tokenizer.model").string();
    if (!fs::exists(rung_tokenizer)) write_file_atomic(rung_tokenizer, read_file(tokenizer));
    const auto tok = Tokenizer::load(rung_tokenizer);
    const ModelConfig config = fit_model_config(rung_config(rung, p.seq_len), tok, p.seq_len);
    const int64_t parameters = config.parameter_count();
    PretrainParams pre;
    pre.out_dir = dir.string();
    pre.mixture = p.mixture;
    pre.batch_size = p.batch_size;
    pre.seq_len = p.seq_len;
    pre.steps = std::max<int64_t>(
        10, static_cast<int64_t>(std::llround(p.tokens_per_parameter * parameters / (p.batch_size * p.seq_len))));
    pre.warmup_steps = std::min<int64_t>(50, pre.steps / 10);
    pre.schedule = "wsd";
    pre.eval_problems = p.eval_problems;
    pre.checkpoint_every = 200;
    pre.seed = p.seed;
    pre.device = p.device;
    pre.progress = p.progress;
    pre.resume = p.resume && fs::exists(dir / "checkpoints");
    log_info("scale", "%s: %.3fM parameters, %lld steps (%.1fM tokens)", rung.name().c_str(), parameters / 1e6,
             static_cast<long long>(pre.steps), pre.steps * p.batch_size * p.seq_len / 1e6);
    const auto run = pretrain(config, pre);
    LadderPoint point;
    point.name = rung.name();
    point.parameters = parameters;
    point.tokens = run.tokens;
    point.flops = config.train_flops_per_token(p.seq_len) * static_cast<double>(run.tokens);
    point.heldout_loss = run.final_eval_loss;
    // The trained cells only: the report card's extra columns (held-out wordings, one step beyond the trained
    // range, blank images, tools off) measure generalisation, not what this rung learned.
    double accuracy = 0;
    int cells = 0;
    for (const auto& e : run.evals)
      if (e.surface == "trained" && !e.beyond_training && !e.blank_images && e.tools) accuracy += e.accuracy, ++cells;
    point.accuracy = cells > 0 ? accuracy / cells : 0.0;
    point.seconds = run.seconds;
    write_file_atomic(summary, point_json(point).dump(2));
    result.points.push_back(point);
  }

  std::vector<double> flops, loss, accuracy;
  for (const auto& pt : result.points) flops.push_back(pt.flops), loss.push_back(pt.heldout_loss), accuracy.push_back(pt.accuracy);
  result.loss_fit = fit_log_linear(flops, loss);
  std::vector<double> log_loss;
  for (double l : loss) log_loss.push_back(std::log10(std::max(l, 1e-9)));
  result.loss_power_fit = fit_log_linear(flops, log_loss);
  result.accuracy_fit = fit_log_linear(flops, accuracy);

  std::string csv = "rung,parameters,tokens,flops,heldout_loss,accuracy,seconds\n";
  nlohmann::json json = {{"mixture", p.mixture}, {"tokens_per_parameter", p.tokens_per_parameter},
                         {"points", nlohmann::json::array()}};
  for (const auto& pt : result.points) {
    char line[256];
    std::snprintf(line, sizeof line, "%s,%lld,%lld,%.6g,%.6f,%.6f,%.1f\n", pt.name.c_str(),
                  static_cast<long long>(pt.parameters), static_cast<long long>(pt.tokens), pt.flops, pt.heldout_loss,
                  pt.accuracy, pt.seconds);
    csv += line;
    json["points"].push_back(point_json(pt));
  }
  auto fit_json = [](const LogLinearFit& f) {
    return nlohmann::json{{"intercept", f.intercept}, {"slope_per_decade", f.slope}, {"r2", f.r2}};
  };
  json["loss_power_fit"] = fit_json(result.loss_power_fit);
  json["loss_fit"] = fit_json(result.loss_fit);
  json["accuracy_fit"] = fit_json(result.accuracy_fit);
  write_file_atomic((out / "scale_pretrain.csv").string(), csv);
  write_file_atomic((out / "scale_pretrain.json").string(), json.dump(2));
  write_file_atomic((out / "scale_pretrain.svg").string(), ladder_svg(result));
  return result;
}

}  // namespace muse

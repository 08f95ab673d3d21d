// Scaling laws, measured: a ladder of model sizes pretrained at a fixed number of tokens per parameter
// (parameters counted with embeddings, as small-model scaling work does), each scored on held-out loss and task
// accuracy, and a log-linear fit of both against training compute (FLOPs) with its R².
//
//   PretrainLadderParams p;  p.out_dir = "runs/scale";
//   LadderResult r = run_pretrain_ladder(p);   // runs/scale/{scale_pretrain.csv,.json,.svg}, one run per rung
//
// Each rung is an ordinary pretraining run directory (out_dir/rung-d64-l2): a stopped ladder resumes rung by rung
// (finished rungs are read back, an interrupted one continues from its checkpoint).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace muse {

struct ScaleRung {
  int64_t d_model = 64;
  int64_t n_layers = 2;
  std::string name() const;  // "d64-l2"
};

// "32x1,48x2" -> rungs (width x depth); MuseError naming the bad entry.
std::vector<ScaleRung> parse_rungs(const std::string& spec);

struct PretrainLadderParams {
  std::string out_dir;
  std::string mixture = "add:1-3,sub:1-3,mul:1-2";  // text tasks: short rows, fast rungs
  std::vector<ScaleRung> rungs = {{32, 1}, {48, 2}, {64, 2}, {96, 3}, {128, 4}};
  double tokens_per_parameter = 10.0;  // nanochat trains at ~10.5, Chinchilla's optimum is ~20
  int64_t batch_size = 16;
  int64_t seq_len = 128;
  int tokenizer_vocab = 512;
  int eval_problems = 50;  // held-out problems per task and difficulty, per rung
  uint64_t seed = 1;
  std::string device = "cpu";
  bool resume = false;
  bool progress = true;
  void validate() const;  // MuseError naming the field
};

struct LadderPoint {
  std::string name;
  int64_t parameters = 0;   // with embeddings
  int64_t tokens = 0;       // trained on
  double flops = 0.0;       // training FLOPs (forward + backward, attention included)
  double heldout_loss = 0.0;
  double accuracy = 0.0;    // mean held-out task accuracy (greedy) over the mixture's trained cells
  double seconds = 0.0;     // training time
};

// y = intercept + slope * log10(x), least squares; r2 = 1 - residual / total sum of squares.
struct LogLinearFit {
  double intercept = 0.0, slope = 0.0, r2 = 0.0;
  double at(double x) const;
};
LogLinearFit fit_log_linear(const std::vector<double>& x, const std::vector<double>& y);  // MuseError if < 2 points

struct LadderResult {
  std::vector<LadderPoint> points;
  // log10(loss) = intercept + slope * log10(FLOPs): the power law loss ∝ C^slope, the usual scaling-law form
  // (on our deterministic tasks the loss heads for 0, so a straight line in loss itself bends).
  LogLinearFit loss_power_fit;
  LogLinearFit loss_fit;      // loss = intercept + slope * log10(FLOPs)
  LogLinearFit accuracy_fit;  // mean accuracy = intercept + slope * log10(FLOPs)
};

LadderResult run_pretrain_ladder(const PretrainLadderParams& params);

}  // namespace muse

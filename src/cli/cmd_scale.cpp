// muse scale pretrain: the pretraining scaling ladder (held-out loss and accuracy against compute, fitted).
// muse scale rl: one RL run for several seeds (held-out accuracy and thinking length against RL steps).
// muse scale test-time: accuracy against thinking budget (Standard), agents (Contemplating) and wall time.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "engine/engine.h"
#include "eval/test_time_scale.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "training/rl/seeds.h"
#include "training/scale.h"

namespace muse::cli {

void add_scale_command(CLI::App& app) {
  auto* scale = app.add_subcommand("scale", "Scaling measurements that write data (CSV/JSON) and a plot");
  scale->require_subcommand(1);
  auto* pre = scale->add_subcommand(
      "pretrain", "A ladder of model sizes pretrained at a fixed tokens-per-parameter ratio; held-out loss and "
                  "accuracy against training FLOPs with a log-linear fit");
  struct Opts {
    PretrainLadderParams params;
    std::string rungs = "32x1,48x2,64x2,96x3,128x4";
    RuntimeOptions runtime;
  };
  auto o = std::make_shared<Opts>();
  pre->add_option("--out", o->params.out_dir, "ladder directory (one run directory per rung)")->required();
  pre->add_option("--rungs", o->rungs, "model sizes WIDTHxDEPTH,...")->capture_default_str();
  pre->add_option("--ratio", o->params.tokens_per_parameter, "training tokens per parameter (embeddings counted)")
      ->capture_default_str()->check(CLI::Range(0.01, 1000.0));
  pre->add_option("--mixture", o->params.mixture, "what every rung trains on")->capture_default_str();
  pre->add_option("--batch-size", o->params.batch_size)->capture_default_str()->check(CLI::Range(1, 4096));
  pre->add_option("--seq-len", o->params.seq_len)->capture_default_str()->check(CLI::Range(16, 8192));
  pre->add_option("--eval-problems", o->params.eval_problems, "held-out problems per task and difficulty")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  pre->add_option("--seed", o->params.seed)->capture_default_str();
  pre->add_flag("--resume", o->params.resume, "keep finished rungs and continue an interrupted one");
  add_runtime_options(*pre, o->runtime);
  pre->callback([o] {
    apply_runtime_options(o->runtime);
    o->params.rungs = parse_rungs(o->rungs);
    o->params.device = o->runtime.device;
    const auto r = run_pretrain_ladder(o->params);
    std::printf("| rung | parameters | tokens | FLOPs | held-out loss | accuracy | minutes |\n|---|---|---|---|---|---|---|\n");
    for (const auto& p : r.points)
      std::printf("| %s | %.3fM | %.2fM | %.3g | %.4f | %.1f%% | %.1f |\n", p.name.c_str(), p.parameters / 1e6,
                  p.tokens / 1e6, p.flops, p.heldout_loss, 100.0 * p.accuracy, p.seconds / 60.0);
    std::printf("held-out loss ~ FLOPs^%.3f (log-log fit, R^2 %.3f); linear in log10(FLOPs): %+.4f per decade, "
                "R^2 %.3f; accuracy %+.3f per decade, R^2 %.3f\n",
                r.loss_power_fit.slope, r.loss_power_fit.r2, r.loss_fit.slope, r.loss_fit.r2, r.accuracy_fit.slope,
                r.accuracy_fit.r2);
    std::printf("wrote %s/scale_pretrain.{csv,json,svg}\n", o->params.out_dir.c_str());
  });

  auto* rl = scale->add_subcommand(
      "rl", "The same RL run for several seeds (DIR/seed-N): held-out accuracy and thinking length against RL steps");
  auto ro = std::make_shared<RlCliOptions>();
  auto seeds = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{1, 2, 3});
  add_rl_options(*rl, *ro);
  rl->get_option("--out")->required()->description("directory of the seeds' runs and the combined data");
  rl->remove_option(rl->get_option("--seed"));  // --seeds instead
  rl->add_option("--seeds", *seeds, "one RL run per seed")->delimiter(',')->capture_default_str();
  rl->callback([ro, seeds] {
    const auto params = resolve_rl_options(*ro);
    const auto points = run_rl_seeds(params, *seeds, params.out_dir);
    std::printf("| seed | step | greedy accuracy | sampled accuracy | greedy thinking | sampled thinking |\n"
                "|---|---|---|---|---|---|\n");
    for (const auto& p : points)
      std::printf("| %llu | %lld | %.1f%% | %.1f%% | %.0f | %.0f |\n", static_cast<unsigned long long>(p.seed),
                  static_cast<long long>(p.step), 100.0 * p.greedy_accuracy, 100.0 * p.sampled_accuracy,
                  p.greedy_thinking, p.sampled_thinking);
    std::printf("wrote %s/scale_rl.{csv,json}, scale_rl_accuracy.svg, scale_rl_thinking.svg\n",
                params.out_dir.c_str());
  });

  auto* tt = scale->add_subcommand(
      "test-time", "Accuracy against thinking budget (Standard), number of agents (Contemplating) and wall time");
  struct TestTimeOpts {
    std::string model = "models/default", out, synthesis = "confidence";
    TestTimeScaleParams params;
    RuntimeOptions runtime;
  };
  auto to = std::make_shared<TestTimeOpts>();
  tt->add_option("--model", to->model, "model directory")->capture_default_str()->check(CLI::ExistingDirectory);
  tt->add_option("--out", to->out, "directory for the data and plots")->required();
  tt->add_option("--task", to->params.task)->capture_default_str();
  tt->add_option("--difficulty", to->params.difficulty)->capture_default_str()->check(CLI::Range(1, 64));
  tt->add_option("--problems", to->params.problems, "held-out problems")->capture_default_str()
      ->check(CLI::Range(1, 100000));
  tt->add_option("--budgets", to->params.budgets, "thinking budgets (-1 = none)")->delimiter(',')
      ->capture_default_str();
  tt->add_option("--agents", to->params.agents, "agent counts")->delimiter(',')->capture_default_str();
  tt->add_option("--synthesis", to->synthesis, "vote | confidence | online")->capture_default_str()
      ->check(CLI::IsMember({"vote", "confidence", "online"}));
  tt->add_option("--seed", to->params.seed, "which held-out problems")->capture_default_str();
  add_runtime_options(*tt, to->runtime);
  tt->callback([to] {
    apply_runtime_options(to->runtime);
    to->params.synthesis = parse_synthesis(to->synthesis, "--synthesis");
    to->params.validate();
    make_task(to->params.task);  // an unknown task fails before the model loads
    const auto device = parse_device(to->runtime.device);
    auto loaded = load_model_dir(to->model, device);
    Engine engine(loaded.model, device, EngineOptions::for_device(device));
    const auto points = run_test_time_scale(engine, loaded.tokenizer, to->params);
    write_test_time_scale(points, to->params, to->out);
    std::printf("| axis | value | accuracy | tokens/problem | s/problem |\n|---|---|---|---|---|\n");
    for (const auto& p : points)
      std::printf("| %s | %s | %.1f%% | %.0f | %.3f |\n", p.axis.c_str(),
                  p.value < 0 ? "none" : std::to_string(p.value).c_str(), 100.0 * p.accuracy, p.tokens_per_problem,
                  p.seconds_per_problem);
    std::printf("wrote %s/scale_test_time.{csv,json} and its plots\n", to->out.c_str());
  });
}

}  // namespace muse::cli

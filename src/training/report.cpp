#include "training/report.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "model/config.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace fs = std::filesystem;

namespace {

// `value` with `digits` decimals, as printf's %.Nf writes it.
std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string percent(double share, int digits) { return fixed(100.0 * share, digits) + "%"; }

std::string stage_line(const std::string& name, const StageReport& s) {
  std::ostringstream line;
  line << "- " << name << ": `" << s.mixture << "`; " << s.steps << " steps x " << s.batch_size << " x " << s.seq_len
       << " tokens = " << fixed(s.tokens / 1e6, 2) << "M tokens in " << fixed(s.seconds / 60.0, 1) << " min ("
       << fixed(s.tokens_per_second, 0) << " tokens/s, " << percent(s.data_wait_share, 1)
       << " of it waiting for data), " << s.schedule << " schedule; final train loss " << fixed(s.final_train_loss, 4)
       << ", held-out loss " << fixed(s.final_eval_loss, 4) << "; evaluation " << fixed(s.eval_seconds / 60.0, 1)
       << " min\n";
  return line.str();
}

std::string model_section(const RecipeReport& report) {
  const ModelConfig c = model_config_from_json(report.model, "the report's model config");
  std::ostringstream md;
  md << "## Model\n\n- Preset `" << c.preset << "`: vocab " << c.vocab_size << ", d_model " << c.d_model << ", "
     << c.n_layers << " layers, " << c.n_heads << " heads (" << c.n_kv_heads << " kv), ffn " << c.ffn_hidden
     << ", context " << c.max_seq_len << ", image patches " << c.patch_size << "x" << c.patch_size << " (up to "
     << c.max_image_patches << " per view)\n- Parameters: " << fixed(report.parameters / 1e6, 2)
     << "M; training FLOPs/token: " << fixed(report.train_flops_per_token / 1e6, 1) << "M\n\n";
  return md.str();
}

std::string training_section(const RecipeReport& report) {
  std::ostringstream md;
  md << "## Training\n\n- Tokenizer: " << fixed(report.stages.tokenizer_seconds, 1) << " s\n"
     << stage_line("Pretraining", report.pretrain);
  if (report.fine_tuned()) {
    md << stage_line("Fine-tuning (SFT)", report.sft) << "  - from the pretrained weights, "
       << percent(report.sft.chat_share, 0)
       << " of task examples dressed as chats (system prompt, earlier turns), the rest single-turn; loss on the "
          "final reply only\n";
    if (report.sft.budget_cut_share > 0)
      md << "  - " << percent(report.sft.budget_cut_share, 0)
         << " of task examples with their reasoning cut at a random point before the answer (how a thinking budget "
            "ends thinking)\n";
    if (report.sft.json_answer_share > 0)
      md << "  - " << percent(report.sft.json_answer_share, 0)
         << " of the chat-dressed examples asked for JSON and answering {\"answer\": value}\n";
  }
  return md.str();
}

// "| task | difficulty | pretrained | fine-tuned |" for the cells both stages evaluated (image-blind runs left out).
std::string stage_comparison_markdown(const std::vector<EvalCell>& before, const std::vector<EvalCell>& after) {
  std::ostringstream md;
  md << "| task | difficulty | pretrained | fine-tuned |\n|---|---|---|---|\n";
  // One row per task and difficulty: the trained surface with tools on (the other runs of a cell are in the
  // tables above).
  const auto primary = [](const EvalCell& c) { return !c.blank_images && c.surface == "trained" && c.tools; };
  for (const auto& a : after) {
    if (!primary(a)) continue;
    for (const auto& b : before)
      if (primary(b) && b.task == a.task && b.difficulty == a.difficulty)
        md << "| " << a.task << " | " << a.difficulty << (a.beyond_training ? " (beyond training)" : "") << " | "
           << percent(b.accuracy, 1) << " | " << percent(a.accuracy, 1) << " |\n";
  }
  return md.str();
}

}  // namespace

StageReport stage_report(const PretrainResult& r, const PretrainParams& p) {
  StageReport s;
  s.mixture = p.mixture;
  s.batch_size = p.batch_size;
  s.seq_len = p.seq_len;
  s.schedule = p.schedule;
  s.chat_share = p.chat_share;
  s.budget_cut_share = p.budget_cut_share;
  s.json_answer_share = p.json_answer_share;
  s.init_from = p.init_from;
  s.steps = r.steps;
  s.tokens = r.tokens;
  s.seconds = r.seconds;
  s.tokens_per_second = r.tokens_per_second;
  s.data_wait_share = r.data_wait_share;
  s.final_train_loss = r.final_train_loss;
  s.final_eval_loss = r.final_eval_loss;
  s.eval_seconds = r.eval_seconds;
  return s;
}

std::vector<EvalCell> eval_cells(const std::vector<TaskEvalResult>& results) {
  std::vector<EvalCell> cells;
  for (const auto& r : results)
    cells.push_back({r.task, r.difficulty, r.problems, r.accuracy, r.mean_reward, r.mean_thinking_tokens,
                     r.mean_answer_tokens, r.modality, r.blank_images, r.seconds, r.surface, r.beyond_training,
                     r.tools, r.calls_per_problem, r.needs_tool,
                     std::isnan(r.called_when_needed) ? -1.0 : r.called_when_needed,
                     std::isnan(r.called_when_not_needed) ? -1.0 : r.called_when_not_needed, r.tool_errors});
  return cells;
}

std::vector<TaskEvalResult> task_eval_results(const std::vector<EvalCell>& cells) {
  std::vector<TaskEvalResult> results;
  for (const auto& c : cells) {
    TaskEvalResult r;
    r.task = c.task;
    r.difficulty = c.difficulty;
    r.problems = c.problems;
    r.accuracy = c.accuracy;
    r.mean_reward = c.mean_reward;
    r.mean_thinking_tokens = c.mean_thinking_tokens;
    r.mean_answer_tokens = c.mean_answer_tokens;
    r.modality = c.modality;
    r.blank_images = c.blank_images;
    r.seconds = c.seconds;
    r.surface = c.surface;
    r.beyond_training = c.beyond_training;
    r.tools = c.tools;
    r.calls_per_problem = c.calls_per_problem;
    r.needs_tool = c.needs_tool;
    r.called_when_needed = c.called_when_needed < 0 ? std::nan("") : c.called_when_needed;
    r.called_when_not_needed = c.called_when_not_needed < 0 ? std::nan("") : c.called_when_not_needed;
    r.tool_errors = c.tool_errors;
    results.push_back(std::move(r));
  }
  return results;
}

PretrainResult stage_result(const StageReport& stage, const std::vector<EvalCell>& evals) {
  PretrainResult r;
  r.steps = stage.steps;
  r.tokens = stage.tokens;
  r.seconds = stage.seconds;
  r.tokens_per_second = stage.tokens_per_second;
  r.data_wait_share = stage.data_wait_share;
  r.final_train_loss = stage.final_train_loss;
  r.final_eval_loss = stage.final_eval_loss;
  r.eval_seconds = stage.eval_seconds;
  r.evals = task_eval_results(evals);
  return r;
}

nlohmann::json report_json(const RecipeReport& report) {
  nlohmann::json j = report;
  if (!report.fine_tuned()) {
    j.erase("sft");
    j.erase("base_eval");
    j["stages"].erase("sft_seconds");
  }
  if (report.previous_model.empty()) {
    j.erase("previous_model");
    j.erase("previous_eval");
  }
  return j;
}

std::string report_markdown(const RecipeReport& report) {
  const bool sft = report.fine_tuned();
  const auto final_evals = task_eval_results(report.eval);
  std::ostringstream md;
  md << "# Muse model report: recipe `" << report.recipe << "`\n\n" << report.description << "\n\n## Environment\n\n"
     << "- CPU: " << report.environment.cpu << "\n- Runtime: " << report.environment.runtime
     << "\n- Git commit: " << report.environment.git_commit << "\n\n"
     << model_section(report) << training_section(report)
     << "\n## Held-out accuracy (greedy)\n\nPer modality:\n\n" << modality_table_markdown(final_evals)
     << "\nPer task and difficulty. The image-blind column replays the same prompts with every image blanked: the "
        "gap is what the model reads from the pixels."
     << (report.previous_model.empty() ? ""
                                       : " The previous-model column scores `" + report.previous_model +
                                             "` on the same problems.")
     << "\n\n"
     << eval_table_markdown(final_evals, task_eval_results(report.previous_eval), "previous model")
     << "\n## Tool use\n\nEvery cell runs with the built-in tools (calculator, zoom, table_query) available; cells "
        "whose reference traces call a tool also run with tools off.\n\n"
     << tool_use_table_markdown(final_evals);
  if (sft)
    md << "\n### Pretrained vs fine-tuned (single-turn prompts)\n\n"
       << stage_comparison_markdown(report.base_eval, report.eval);
  md << "\nReproduce: `muse train --recipe " << report.recipe << " --out DIR`. Loss curves: `metrics.jsonl`"
     << (sft ? " (fine-tuning) and `base/metrics.jsonl` (pretraining)" : "") << ".\n";
  return md.str();
}

void write_report(const std::string& dir, const RecipeReport& report) {
  write_file_atomic((fs::path(dir) / "report.json").string(), report_json(report).dump(2) + "\n");
  write_file_atomic((fs::path(dir) / "report.md").string(), report_markdown(report));
}

RecipeReport read_report(const std::string& dir) {
  const std::string path = (fs::path(dir) / "report.json").string();
  const std::string text = read_file(path);
  try {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_object() || !j.contains("pretrain") || !j.contains("eval"))
      throw file_error(path, "not a stage report (no \"pretrain\" or \"eval\")");
    return j.get<RecipeReport>();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(path, std::string("not a stage report (") + e.what() + ")");
  }
}

}  // namespace muse

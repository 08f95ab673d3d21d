// Task accuracy: greedy answers to held-out problems (never seen in training, by construction), scored by
// the task's own verifier — optionally under a thinking budget, and optionally dressed as a chat.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "agents/spawn.h"
#include "agents/tool_session.h"
#include "data/task.h"
#include "engine/engine.h"

namespace muse {

// How a problem is put to the model.
//   Plain: the problem alone, as one user turn.
//   Chat:  the same problem dressed as a chat — a system prompt and 1-2 earlier solved held-out problems of the
//          same task (their reasoning dropped, as chat history sends them), then the problem itself.
enum class PromptStyle { Plain, Chat };
const char* prompt_style_name(PromptStyle style);  // "plain" | "chat"
PromptStyle parse_prompt_style(const std::string& name);  // MuseError naming the known styles

// The fixed system prompts of chat-style evaluation (problem i gets prompt i mod count).
const std::vector<std::string>& eval_system_prompts();

struct ChatStyleOptions {
  std::vector<std::string> system_prompts = eval_system_prompts();  // empty: no system prompt
  int min_earlier_turns = 1;  // earlier solved problems before the question (drawn uniformly in [min, max])
  int max_earlier_turns = 2;
};

// Everything an evaluation run is, besides the model and the task. The problems depend only on (seed,
// difficulty), so runs that differ in budget or style see exactly the same problems.
struct EvalParams {
  int problems = 100;
  uint64_t seed = 7;
  int max_tokens = 256;
  bool blank_images = false;     // the image-blind baseline: every image replaced by a blank one
  int max_thinking_tokens = -1;  // thinking budget: -1 = no limit; 0 = the thinking span is closed at once
  int min_thinking_tokens = 0;
  PromptStyle style = PromptStyle::Plain;
  ChatStyleOptions chat;
  // The wordings and picture styles the problems are put in: Heldout = the ones training never sees.
  Surface surface = Surface::Trained;
  double temperature = 0.0;  // 0 = greedy; above 0 sampled (top_p, seed), e.g. to see how long it thinks by choice
  double top_p = 1.0;
  // Built-in tools (calculator, zoom, table_query) during the answer; off: the model may not call any.
  ToolUseParams tool_use;
  // Sub-agents: each problem runs as an agent tree (agents/spawn.h) that may spawn helpers. Spawning runs, and
  // every run with `sequential`, put the problems to the model one at a time, so each problem's wall time is
  // its latency (batched runs share one batch: seconds per problem is then throughput, not latency).
  bool spawn = false;
  SpawnLimits spawn_limits;
  bool sequential = false;
  double deadline_s = 0;  // sequential runs: > 0 stops a problem at this wall time (unanswered = wrong)
  void validate() const;  // MuseError naming the field
};

// One problem's outcome (kept in memory for tests and analysis; the reports show the means).
struct ProblemOutcome {
  double reward = 0.0;
  int thinking_tokens = 0;  // generated inside the thinking span
  int answer_tokens = 0;
  bool budget_hit = false;  // <|/think|> was forced by the budget
  // The model closed its thinking itself before 80% of the reference trace's tokens: it stopped thinking early
  // by choice (what training on budget-cut traces must not teach).
  bool stopped_early = false;
  FinishReason finish_reason = FinishReason::None;
  int tool_calls = 0;       // built-in tool calls the model made (an unclosed one included; spawns not)
  int tool_errors = 0;      // of them, how many came back as errors (malformed, unknown, over limits...)
  bool needs_tool = false;  // the reference trace calls a tool (the problem is past what the head does)
  // Sequential runs: the problem's wall time; with spawning, agents in its tree (the root included), spawn
  // calls of the root, and tokens of all agents.
  double seconds = 0.0;
  int agents = 1;
  int spawns = 0;
  int64_t total_tokens = 0;
};

struct TaskEvalResult {
  std::string task;
  int difficulty = 0;
  int problems = 0;
  double accuracy = 0.0;          // share with reward == 1
  double mean_reward = 0.0;
  double mean_thinking_tokens = 0.0;
  double mean_answer_tokens = 0.0;
  double seconds = 0.0;           // the whole run: rendering, generation and scoring
  bool blank_images = false;      // the image-blind baseline: every image replaced by a blank one
  std::string modality;           // what the prompts hold: "text", "image", "table" or "image+table"
  int budget = -1;                // max_thinking_tokens of the run (-1 = no limit)
  int min_thinking_tokens = 0;
  std::string style = "plain";    // prompt_style_name of the run
  std::string surface = "trained";  // surface_name of the run: "heldout" = wordings/styles training never saw
  bool beyond_training = false;   // the difficulty is one step past what the model was trained on
  double seconds_per_problem = 0.0;
  double budget_hit = 0.0;        // share of problems whose thinking the budget cut short (<|/think|> forced)
  double stopped_early = 0.0;     // share of problems whose thinking the model itself ended early (ProblemOutcome)
  double temperature = 0.0;       // of the run (0 = greedy)
  double mean_prompt_tokens = 0.0;
  bool tools = true;              // built-in tools were available
  double calls_per_problem = 0.0;
  double needs_tool = 0.0;        // share of problems whose reference trace calls a tool
  double called_when_needed = 0.0;      // of those, the share where the model called one (NaN: none needed)
  double called_when_not_needed = 0.0;  // of the others, the share where it called one anyway (NaN: all needed)
  int tool_errors = 0;
  bool spawn = false;             // sub-agents allowed (problems one at a time)
  bool sequential = false;        // problems one at a time: the latencies below are per problem
  double deadline_s = 0.0;
  double mean_latency_s = 0.0, p90_latency_s = 0.0;  // sequential runs
  double agents_per_problem = 0.0, spawns_per_problem = 0.0, mean_total_tokens = 0.0;
  std::vector<ProblemOutcome> outcomes;  // per problem, in order
};

// The engine params every evaluation's problem runs with: sampling, token limit, stops, thinking budget.
RequestParams eval_request(const Tokenizer& tokenizer, const EvalParams& params);

TaskEvalResult evaluate_task(Engine& engine, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             const EvalParams& params);
// The original form (plain prompts, no budget), kept for its callers.
// With `blank_images`, every image of the prompt is replaced by a white one of the same size: what the model
// scores then is what it can guess without seeing; the difference to the normal run is what it actually sees.
TaskEvalResult evaluate_task(Engine& engine, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens = 256, bool blank_images = false);

// The prompts an evaluation puts to the model, in order: the held-out problems it scores and their rendering.
struct EvalPrompts {
  std::vector<Example> examples;
  std::vector<TokenSequence> prompts;
};
EvalPrompts eval_prompts(const Tokenizer& tokenizer, const Task& task, int difficulty, const EvalParams& params,
                         const ModelConfig& config);

// The prompt with every image replaced by a white image of the same size.
std::vector<Segment> blank_images_of(const std::vector<Segment>& prompt);

// Whether the task's prompts at this difficulty contain images.
bool task_has_images(const Task& task, int difficulty);

// "| task | difficulty | n | accuracy | ... |" Markdown table, one row per trained-surface result; blank-image
// and held-out-surface results become the "image-blind" and "held-out wording/style" columns of their row, and
// the matching rows of `compare` (e.g. the previous model) a column headed `compare_label`.
std::string eval_table_markdown(const std::vector<TaskEvalResult>& results,
                                const std::vector<TaskEvalResult>& compare = {}, const std::string& compare_label = "");
// Tool use, one row per (task, difficulty) run with tools on: accuracy with and without tools (the tools-off run
// of the same row, when there is one), calls per problem, how often a tool was called when the reference needs
// one and when it does not, and tool errors.
std::string tool_use_table_markdown(const std::vector<TaskEvalResult>& results);
// Mean accuracy per modality over the trained difficulties (each task and difficulty weighs the same), with the
// held-out-surface and image-blind means beside it.
std::string modality_table_markdown(const std::vector<TaskEvalResult>& results);
// Sub-agents and latency, one row per sequential run: accuracy, latency (mean, p90), tokens of all agents,
// agents and spawn calls per problem. Empty when no run was sequential.
std::string agents_table_markdown(const std::vector<TaskEvalResult>& results);

}  // namespace muse

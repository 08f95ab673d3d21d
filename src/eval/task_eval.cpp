#include "eval/task_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "util/error.h"

namespace muse {

const char* prompt_style_name(PromptStyle style) {
  switch (style) {
    case PromptStyle::Plain: return "plain";
    case PromptStyle::Chat: return "chat";
  }
  return "?";
}

PromptStyle parse_prompt_style(const std::string& name) {
  if (name == "plain") return PromptStyle::Plain;
  if (name == "chat") return PromptStyle::Chat;
  throw MuseError("style '" + name + "' is not known; known: plain, chat");
}

const std::vector<std::string>& eval_system_prompts() {
  static const std::vector<std::string> prompts = {
      "You are Muse. Answer the last question.",
      "Be concise.",
      "You are a careful assistant. Think step by step, then give only the answer.",
  };
  return prompts;
}

void EvalParams::validate() const {
  if (problems < 0) throw MuseError("problems must be >= 0, got " + std::to_string(problems));
  if (max_tokens < 1) throw MuseError("max_tokens must be >= 1, got " + std::to_string(max_tokens));
  SamplingParams budget;  // the thinking budget's own rules
  budget.think_end_token = 0;
  budget.max_thinking_tokens = max_thinking_tokens;
  budget.min_thinking_tokens = min_thinking_tokens;
  budget.validate();
  if (chat.min_earlier_turns < 0 || chat.max_earlier_turns < chat.min_earlier_turns)
    throw MuseError("chat style: earlier turns must satisfy 0 <= min <= max, got " +
                    std::to_string(chat.min_earlier_turns) + " and " + std::to_string(chat.max_earlier_turns));
  if (deadline_s < 0) throw MuseError("deadline must be >= 0 seconds (0 = none), got " + std::to_string(deadline_s));
  spawn_limits.validate();
}

namespace {

std::vector<Message> blank_images_in(std::vector<Message> messages) {
  for (auto& message : messages) message.content = blank_images_of(message.content);
  return messages;
}

}  // namespace

EvalPrompts eval_prompts(const Tokenizer& tokenizer, const Task& task, int difficulty, const EvalParams& params,
                         const ModelConfig& config) {
  params.validate();
  EvalPrompts out;
  // The problems depend on (seed, difficulty) only; the chat dressing draws from a stream of its own, so the
  // plain and chat runs score exactly the same problems.
  Rng rng(seed_mix(params.seed, static_cast<uint64_t>(difficulty), 0xe5a1));
  for (int i = 0; i < params.problems; ++i)
    out.examples.push_back(task.sample(rng, difficulty, Split::Heldout, params.surface));
  RenderOptions options;
  options.vision = vision_params(config);
  options.keep_history_thinking = false;  // what chat history sends: earlier answers without their reasoning
  Rng dress(seed_mix(params.seed, static_cast<uint64_t>(difficulty), 0xc4a7));
  for (int i = 0; i < params.problems; ++i) {
    const auto& example = out.examples[static_cast<size_t>(i)];
    if (params.style == PromptStyle::Plain) {
      out.prompts.push_back(render_prompt(tokenizer, params.blank_images ? blank_images_of(example.prompt)
                                                                         : example.prompt,
                                          options));
      continue;
    }
    const auto& systems = params.chat.system_prompts;
    const std::string system = systems.empty() ? "" : systems[static_cast<size_t>(i) % systems.size()];
    const int turns = static_cast<int>(dress.uniform_int(params.chat.min_earlier_turns, params.chat.max_earlier_turns));
    std::vector<Example> earlier;
    const std::string key = segments_key(example.prompt);
    for (int attempt = 0; static_cast<int>(earlier.size()) < turns && attempt < 100 * (turns + 1); ++attempt) {
      auto other = task.sample(dress, difficulty, Split::Heldout, params.surface);
      if (segments_key(other.prompt) != key) earlier.push_back(std::move(other));
    }
    // A chat that leaves no room for the reply within the context drops its earliest turns first.
    for (;;) {
      auto messages = example_conversation(example, earlier, system, false);
      if (params.blank_images) messages = blank_images_in(std::move(messages));
      auto prompt = render_conversation(tokenizer, messages, true, options);
      if (earlier.empty() || static_cast<int64_t>(prompt.size()) + params.max_tokens <= config.max_seq_len) {
        out.prompts.push_back(std::move(prompt));
        break;
      }
      earlier.erase(earlier.begin());
    }
  }
  return out;
}

RequestParams eval_request(const Tokenizer& tokenizer, const EvalParams& params) {
  RequestParams request;
  request.sampling.temperature = params.temperature;
  request.sampling.top_p = params.top_p;
  request.sampling.seed = params.seed;
  request.sampling.max_tokens = params.max_tokens;
  request.sampling.stop_tokens = {tokenizer.special(Special::EndOfTurn), tokenizer.eos()};
  request.sampling.think_end_token = tokenizer.special(Special::ThinkEnd);
  request.sampling.max_thinking_tokens = params.max_thinking_tokens;
  request.sampling.min_thinking_tokens = params.min_thinking_tokens;
  return request;
}

TaskEvalResult evaluate_task(Engine& engine, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             const EvalParams& params) {
  const auto start = std::chrono::steady_clock::now();
  const auto [examples, prompts] = eval_prompts(tokenizer, task, difficulty, params, engine.config());
  const RequestParams request = eval_request(tokenizer, params);
  std::vector<Prompt> inputs;
  std::vector<RequestParams> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    inputs.push_back(Prompt::of(prompts[i]));
    requests.push_back(request);
    requests.back().sampling.seed = seed_mix(params.seed, i, 0x5a3e);  // sampled runs: each problem its own draws
  }
  std::vector<ToolRun> runs;
  std::vector<ProblemOutcome> timing(examples.size());  // sequential runs: seconds, agents, spawns, tokens
  const VisionParams vision = vision_params(engine.config());
  const auto attachments_of = [&](const Example& example) {
    return params.blank_images ? blank_images_of(example.prompt) : example.prompt;
  };
  if (params.spawn || params.sequential) {
    SpawnLimits limits = params.spawn_limits;
    limits.enabled = params.spawn;
    if (params.deadline_s > 0) limits.max_seconds = std::min(limits.max_seconds, params.deadline_s);
    for (size_t i = 0; i < examples.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto attachments = attachments_of(examples[i]);
      if (params.spawn) {
        AgentTree tree(engine, tokenizer, builtin_tools(), params.tool_use, limits, vision);
        auto run = tree.run(attachments, inputs[i], requests[i]);
        timing[i].agents = static_cast<int>(run.agents.size());
        timing[i].spawns = static_cast<int>(run.agents[0].spawns.size());
        timing[i].total_tokens = run.tokens;
        runs.push_back({std::move(run.agents[0].sequence), std::move(run.agents[0].calls)});
      } else {
        ToolRunner runner(tokenizer, builtin_tools(), tool_context_for(attachments, vision), params.tool_use);
        RequestParams request = requests[i];
        runner.configure(request);
        runs.push_back(generate_with_tools(engine, inputs[i], request, runner, [&](const TokenEvent& e) {
          if (params.deadline_s > 0 && !e.finished &&
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > params.deadline_s)
            engine.cancel(e.id);
        }));
        timing[i].total_tokens = static_cast<int64_t>(runs.back().sequence.tokens.size());
      }
      timing[i].seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
  } else {
    std::vector<ToolRunner> runners;
    for (const auto& example : examples)
      runners.emplace_back(tokenizer, builtin_tools(), tool_context_for(attachments_of(example), vision), params.tool_use);
    runs = run_batch_with_tools(engine, inputs, requests, runners);
  }

  TaskEvalResult result;
  result.task = task.name();
  result.difficulty = difficulty;
  result.problems = params.problems;
  result.blank_images = params.blank_images;
  result.budget = params.max_thinking_tokens;
  result.min_thinking_tokens = params.min_thinking_tokens;
  result.style = prompt_style_name(params.style);
  result.surface = surface_name(params.surface);
  result.temperature = params.temperature;
  result.tools = params.tool_use.enabled;
  result.spawn = params.spawn;
  result.sequential = params.spawn || params.sequential;
  result.deadline_s = params.deadline_s;
  bool image = false, table = false;
  for (const auto& example : examples)
    for (const auto& segment : example.prompt) {
      image |= segment.kind == SegmentKind::Image;
      table |= segment.kind == SegmentKind::Table;
    }
  result.modality = image && table ? "image+table" : image ? "image" : table ? "table" : "text";
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto& output = runs[i].sequence;
    const auto reply = parse_reply(tokenizer, output.tokens);
    ProblemOutcome outcome;
    outcome.reward = task.verify(examples[i], reply.answer);
    outcome.thinking_tokens = reply.thinking_tokens;
    outcome.answer_tokens = reply.answer_tokens;
    outcome.budget_hit = std::find(output.forced.begin(), output.forced.end(), true) != output.forced.end();
    const auto reference_tokens = tokenizer.encode(examples[i].reasoning).size();
    outcome.stopped_early = !outcome.budget_hit && reply.finished_thinking &&
                            static_cast<double>(reply.thinking_tokens) < 0.8 * static_cast<double>(reference_tokens);
    outcome.finish_reason = output.finish_reason;
    // Tool columns count built-in tool calls; spawns have their own (agents, spawns per problem). A refused
    // spawn still counts as an error the model saw.
    for (const auto& call : runs[i].calls) {
      outcome.tool_calls += call.name == kSpawnTool ? 0 : 1;
      outcome.tool_errors += call.ok() ? 0 : 1;
    }
    // A spawn in the reference is no built-in tool a problem needs (spawning is scored by its own columns).
    outcome.needs_tool = std::any_of(examples[i].tool_calls.begin(), examples[i].tool_calls.end(),
                                     [](const TraceToolCall& c) { return c.name != kSpawnTool; });
    outcome.seconds = timing[i].seconds;
    outcome.agents = timing[i].agents;
    outcome.spawns = timing[i].spawns;
    outcome.total_tokens = result.sequential ? timing[i].total_tokens : static_cast<int64_t>(output.tokens.size());
    result.agents_per_problem += outcome.agents;
    result.spawns_per_problem += outcome.spawns;
    result.mean_total_tokens += static_cast<double>(outcome.total_tokens);
    result.calls_per_problem += outcome.tool_calls;
    result.tool_errors += outcome.tool_errors;
    result.mean_reward += outcome.reward;
    result.accuracy += outcome.reward >= 1.0 ? 1.0 : 0.0;
    result.mean_thinking_tokens += outcome.thinking_tokens;
    result.mean_answer_tokens += outcome.answer_tokens;
    result.budget_hit += outcome.budget_hit ? 1.0 : 0.0;
    result.stopped_early += outcome.stopped_early ? 1.0 : 0.0;
    result.mean_prompt_tokens += static_cast<double>(prompts[i].size());
    result.outcomes.push_back(std::move(outcome));
  }
  int needing = 0, called_needing = 0, called_other = 0;
  for (const auto& o : result.outcomes) {
    needing += o.needs_tool ? 1 : 0;
    if (o.tool_calls > 0) (o.needs_tool ? called_needing : called_other) += 1;
  }
  const int others = static_cast<int>(result.outcomes.size()) - needing;
  result.called_when_needed = needing > 0 ? static_cast<double>(called_needing) / needing : std::nan("");
  result.called_when_not_needed = others > 0 ? static_cast<double>(called_other) / others : std::nan("");
  result.needs_tool = result.outcomes.empty() ? 0.0 : static_cast<double>(needing) / result.outcomes.size();
  if (params.problems > 0) {
    const double n = params.problems;
    result.calls_per_problem /= n;
    result.accuracy /= n;
    result.mean_reward /= n;
    result.mean_thinking_tokens /= n;
    result.mean_answer_tokens /= n;
    result.budget_hit /= n;
    result.stopped_early /= n;
    result.mean_prompt_tokens /= n;
    result.agents_per_problem /= n;
    result.spawns_per_problem /= n;
    result.mean_total_tokens /= n;
  }
  if (result.sequential && !result.outcomes.empty()) {
    std::vector<double> latency;
    for (const auto& o : result.outcomes) latency.push_back(o.seconds);
    double sum = 0;
    for (double l : latency) sum += l;
    result.mean_latency_s = sum / static_cast<double>(latency.size());
    std::sort(latency.begin(), latency.end());
    result.p90_latency_s = latency[std::min(latency.size() - 1, static_cast<size_t>(0.9 * static_cast<double>(latency.size())))];
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.seconds_per_problem = params.problems > 0 ? result.seconds / params.problems : 0.0;
  return result;
}

TaskEvalResult evaluate_task(Engine& engine, const Tokenizer& tokenizer, const Task& task, int difficulty,
                             int problems, uint64_t seed, int max_tokens, bool blank_images) {
  EvalParams params;
  params.problems = problems;
  params.seed = seed;
  params.max_tokens = max_tokens;
  params.blank_images = blank_images;
  return evaluate_task(engine, tokenizer, task, difficulty, params);
}

std::string agents_table_markdown(const std::vector<TaskEvalResult>& results) {
  std::string out;
  for (const auto& r : results) {
    if (!r.sequential) continue;
    if (out.empty())
      out = "| task | difficulty | sub-agents | deadline | accuracy | latency mean | latency p90 | tokens (all agents) | "
            "agents / problem | spawns / problem |\n|---|---|---|---|---|---|---|---|---|---|\n";
    char deadline[32] = "none", line[320];
    if (r.deadline_s > 0) std::snprintf(deadline, sizeof deadline, "%.2f s", r.deadline_s);
    std::snprintf(line, sizeof line, "| %s | %d | %s | %s | %.1f%% | %.3f s | %.3f s | %.1f | %.2f | %.2f |\n",
                  r.task.c_str(), r.difficulty, r.spawn ? "on" : "off", deadline, 100.0 * r.accuracy,
                  r.mean_latency_s, r.p90_latency_s, r.mean_total_tokens, r.agents_per_problem, r.spawns_per_problem);
    out += line;
  }
  return out;
}

std::vector<Segment> blank_images_of(const std::vector<Segment>& prompt) {
  std::vector<Segment> out = prompt;
  for (auto& segment : out)
    if (segment.kind == SegmentKind::Image)
      segment.image = std::make_shared<const Image>(make_image(segment.image->width, segment.image->height));
  return out;
}

std::string eval_table_markdown(const std::vector<TaskEvalResult>& results,
                                const std::vector<TaskEvalResult>& compare, const std::string& compare_label) {
  // Rows are the trained-surface runs; image-blind and held-out-surface runs of the same (task, difficulty,
  // budget, style) fill columns of their row, as does the same row of `compare`.
  auto find = [](const std::vector<TaskEvalResult>& in, const TaskEvalResult& r, bool blank,
                 const char* surface) -> const TaskEvalResult* {
    for (const auto& o : in)
      if (o.blank_images == blank && o.surface == surface && o.task == r.task && o.difficulty == r.difficulty &&
          o.budget == r.budget && o.style == r.style && o.tools == r.tools)
        return &o;
    return nullptr;
  };
  // Rows are the runs with tools when there are any (tools-off runs then live in tool_use_table_markdown).
  const bool row_tools = std::any_of(results.begin(), results.end(), [](const TaskEvalResult& r) { return r.tools; });
  bool any_blind = false, any_heldout = false;
  for (const auto& r : results) {
    any_blind |= r.blank_images;
    any_heldout |= !r.blank_images && r.surface == "heldout";
  }
  const bool any_compare = !compare.empty();
  auto cell = [](const TaskEvalResult* r) {
    if (!r) return std::string(" – |");
    char text[32];
    std::snprintf(text, sizeof text, " %.1f%% |", 100.0 * r->accuracy);
    return std::string(text);
  };
  std::string out = "| task | difficulty | problems | accuracy |", rule = "|---|---|---|---|";
  if (any_heldout) out += " held-out wording/style |", rule += "---|";
  if (any_blind) out += " image-blind |", rule += "---|";
  if (any_compare) out += " " + compare_label + " |", rule += "---|";
  out += " mean reward | thinking tokens | answer tokens |\n" + rule + "---|---|---|\n";
  char line[320];
  for (const auto& r : results) {
    if (r.blank_images || r.surface != "trained" || r.tools != row_tools) continue;
    std::string middle;
    if (any_heldout) middle += cell(find(results, r, false, "heldout"));
    if (any_blind) middle += cell(find(results, r, true, "trained"));
    if (any_compare) middle += cell(find(compare, r, false, "trained"));
    const std::string difficulty = std::to_string(r.difficulty) + (r.beyond_training ? " (beyond training)" : "");
    std::snprintf(line, sizeof line, "| %s | %s | %d | %.1f%% |%s %.3f | %.1f | %.1f |\n", r.task.c_str(),
                  difficulty.c_str(), r.problems, 100.0 * r.accuracy, middle.c_str(), r.mean_reward,
                  r.mean_thinking_tokens, r.mean_answer_tokens);
    out += line;
  }
  return out;
}

std::string tool_use_table_markdown(const std::vector<TaskEvalResult>& results) {
  auto percent = [](double share) {
    if (std::isnan(share)) return std::string("–");
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100.0 * share);
    return std::string(text);
  };
  std::string out =
      "| task | difficulty | problems | needs a tool | accuracy, tools on | tools off | calls per problem | "
      "called when needed | called when not needed | tool errors |\n|---|---|---|---|---|---|---|---|---|---|\n";
  char line[400];
  for (const auto& r : results) {
    if (!r.tools || r.blank_images) continue;
    const TaskEvalResult* off = nullptr;
    for (const auto& o : results)
      if (!o.tools && !o.blank_images && o.task == r.task && o.difficulty == r.difficulty && o.surface == r.surface &&
          o.budget == r.budget && o.style == r.style)
        off = &o;
    const std::string difficulty = std::to_string(r.difficulty) + (r.surface == "heldout" ? " (held-out surface)" : "");
    std::snprintf(line, sizeof line, "| %s | %s | %d | %s | %s | %s | %.2f | %s | %s | %d |\n", r.task.c_str(),
                  difficulty.c_str(), r.problems, percent(r.needs_tool).c_str(), percent(r.accuracy).c_str(),
                  off ? percent(off->accuracy).c_str() : "–", r.calls_per_problem,
                  percent(r.called_when_needed).c_str(), percent(r.called_when_not_needed).c_str(), r.tool_errors);
    out += line;
  }
  return out;
}

std::string modality_table_markdown(const std::vector<TaskEvalResult>& results) {
  struct Sums {
    double accuracy = 0, blind = 0, heldout = 0;
    int count = 0, blind_count = 0, heldout_count = 0;
  };
  std::vector<std::pair<std::string, Sums>> by_modality;  // first-seen order
  bool any_heldout = false;
  const bool row_tools = std::any_of(results.begin(), results.end(), [](const TaskEvalResult& r) { return r.tools; });
  for (const auto& r : results) {
    if (r.beyond_training) continue;  // the means are over what was trained; beyond-range rows stand alone
    if (r.tools != row_tools) continue;  // tools-off runs: tool_use_table_markdown
    auto it = std::find_if(by_modality.begin(), by_modality.end(), [&](const auto& e) { return e.first == r.modality; });
    if (it == by_modality.end()) it = by_modality.insert(by_modality.end(), {r.modality, Sums{}});
    if (r.blank_images) it->second.blind += r.accuracy, ++it->second.blind_count;
    else if (r.surface == "heldout") it->second.heldout += r.accuracy, ++it->second.heldout_count, any_heldout = true;
    else it->second.accuracy += r.accuracy, ++it->second.count;
  }
  std::string out = any_heldout ? "| modality | task x difficulty cells | mean accuracy | held-out wording/style mean | "
                                  "image-blind mean |\n|---|---|---|---|---|\n"
                                : "| modality | task x difficulty cells | mean accuracy | image-blind mean |\n|---|---|---|---|\n";
  char line[240];
  auto mean = [](double sum, int count) {
    if (count == 0) return std::string("–");
    char text[32];
    std::snprintf(text, sizeof text, "%.1f%%", 100.0 * sum / count);
    return std::string(text);
  };
  for (const auto& [modality, s] : by_modality) {
    if (s.count == 0) continue;
    const std::string heldout = any_heldout ? " " + mean(s.heldout, s.heldout_count) + " |" : "";
    std::snprintf(line, sizeof line, "| %s | %d | %.1f%% |%s %s |\n", modality.c_str(), s.count,
                  100.0 * s.accuracy / s.count, heldout.c_str(), mean(s.blind, s.blind_count).c_str());
    out += line;
  }
  return out;
}

// Whether any problem of the task at this difficulty shows an image (then an image-blind baseline is meaningful).
bool task_has_images(const Task& task, int difficulty) {
  Rng rng(1);
  for (int i = 0; i < 8; ++i)
    for (const auto& segment : task.generate(rng, difficulty).prompt)
      if (segment.kind == SegmentKind::Image) return true;
  return false;
}

}  // namespace muse

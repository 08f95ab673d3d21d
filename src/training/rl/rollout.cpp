#include "training/rl/rollout.h"

#include <algorithm>

#include "engine/engine.h"
#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {

void RolloutParams::validate() const {
  if (prompts <= 0) throw MuseError("prompts per step must be > 0, got " + std::to_string(prompts));
  if (group_size < 2) throw MuseError("group size must be >= 2 (advantages compare samples), got " +
                                      std::to_string(group_size));
  if (temperature <= 0) throw MuseError("rollout temperature must be > 0, got " + std::to_string(temperature));
  if (top_p <= 0 || top_p > 1) throw MuseError("rollout top_p must be in (0, 1], got " + std::to_string(top_p));
  if (max_tokens <= 0) throw MuseError("rollout max tokens must be > 0, got " + std::to_string(max_tokens));
  const auto entries = parse_mixture(tasks);
  for (const auto& e : entries)
    if (e.task == "text" || e.task == "chat")
      throw MuseError("RL tasks need a verifier: '" + e.task + "' has none (use task names, e.g. countdown:3-4)");
}

bool ends_in_loop(const std::vector<int>& tokens, size_t start, int window, int max_period) {
  if (tokens.size() < start + static_cast<size_t>(window)) return false;
  const size_t end = tokens.size(), from = end - static_cast<size_t>(window);
  for (int period = 1; period <= max_period; ++period) {
    bool loop = true;
    for (size_t i = from + static_cast<size_t>(period); i < end && loop; ++i) loop = tokens[i] == tokens[i - period];
    if (loop) return true;
  }
  return false;
}

std::vector<Rollout> generate_rollouts(Transformer& model, const c10::Device& device, const Tokenizer& tokenizer,
                                       const std::vector<MixtureEntry>& tasks, const RolloutParams& params,
                                       uint64_t seed, int64_t round) {
  params.validate();
  const auto& config = model->config();
  // The round's problems: a task by weight, a difficulty uniform in its range, from the training split.
  std::vector<std::unique_ptr<Task>> made;
  double total_weight = 0.0;
  for (const auto& entry : tasks) {
    made.push_back(make_task(entry.task));
    total_weight += entry.weight;
  }
  Rng rng(seed_mix(seed, static_cast<uint64_t>(round), 0x7a11));
  std::vector<Example> examples;
  std::vector<size_t> task_of;
  for (int i = 0; i < params.prompts; ++i) {
    double pick = rng.uniform() * total_weight;
    size_t t = 0;
    while (t + 1 < tasks.size() && pick >= tasks[t].weight) pick -= tasks[t++].weight;
    const int difficulty = static_cast<int>(rng.uniform_int(tasks[t].min_difficulty, tasks[t].max_difficulty));
    examples.push_back(made[t]->sample(rng, difficulty, Split::Train));
    task_of.push_back(t);
  }

  EngineOptions options = EngineOptions::for_device(device);
  const int64_t sequences = int64_t{params.prompts} * params.group_size;
  const int64_t kv_per_token = 2 * config.n_layers * config.n_kv_heads * (config.d_model / config.n_heads) * 4;
  options.kv_mem = std::min<int64_t>(int64_t{1} << 30, sequences * config.max_seq_len * kv_per_token);
  options.max_running = static_cast<int>(std::max<int64_t>(1, sequences));
  options.reproducible = true;  // the same weights give the same rollouts: exact resume regenerates them
  Engine engine(model, device, options);

  RenderOptions render;
  render.vision = vision_params(config);
  auto events = std::make_shared<EventQueue>();
  std::vector<SeqId> ids;
  std::vector<ToolRunner> runners;
  std::vector<Prompt> prompts;
  runners.reserve(static_cast<size_t>(sequences));
  for (int i = 0; i < params.prompts; ++i) {
    const auto& example = examples[static_cast<size_t>(i)];
    prompts.push_back(Prompt::of(render_prompt(tokenizer, example.prompt, render)));
    RequestParams request;
    request.sampling.temperature = params.temperature;
    request.sampling.top_p = params.top_p;
    request.sampling.seed = seed_mix(seed, static_cast<uint64_t>(round), static_cast<uint64_t>(i));
    request.sampling.max_tokens = params.max_tokens;
    request.sampling.stop_tokens = {tokenizer.special(Special::EndOfTurn), tokenizer.eos()};
    request.sampling.think_end_token = tokenizer.special(Special::ThinkEnd);
    request.keep_inputs = true;
    request.events = events;
    for (int g = 0; g < params.group_size; ++g)
      runners.emplace_back(tokenizer, builtin_tools(), tool_context_for(example.prompt, render.vision),
                           params.tool_use);
    runners.back().configure(request);  // the same for every runner of the group: pause or ban tool calls
    for (SeqId id : engine.add_samples(prompts.back(), request, params.group_size)) ids.push_back(id);
  }
  const auto runs = drive_with_tools(engine, ids, events, runners);

  std::vector<Rollout> out;
  out.reserve(runs.size());
  for (size_t k = 0; k < runs.size(); ++k) {
    const auto i = k / static_cast<size_t>(params.group_size);
    const auto& example = examples[i];
    const auto& sequence = runs[k].sequence;
    const auto& prompt = prompts[i];
    Rollout r;
    r.group = static_cast<int>(i);
    r.task = example.task;
    r.difficulty = example.difficulty;
    r.prompt_tokens = static_cast<int64_t>(prompt.tokens.size());
    r.tokens = prompt.tokens;
    r.tokens.insert(r.tokens.end(), sequence.tokens.begin(), sequence.tokens.end());
    r.positions = sequence.positions;
    r.patches = sequence.patches;
    if (r.positions.size() != r.tokens.size())
      throw MuseError("rollout " + std::to_string(k) + ": the engine returned " + std::to_string(r.positions.size()) +
                      " positions for " + std::to_string(r.tokens.size()) + " tokens");
    r.sampled.assign(r.tokens.size(), false);
    for (size_t j = 0; j < sequence.tokens.size(); ++j) r.sampled[prompt.tokens.size() + j] = !sequence.forced[j];
    const auto reply = parse_reply(tokenizer, sequence.tokens);
    r.answer = reply.answer;
    r.finish_reason = sequence.finish_reason;
    r.truncated = sequence.finish_reason == FinishReason::Length || sequence.finish_reason == FinishReason::Context;
    r.repetitive = ends_in_loop(r.tokens, prompt.tokens.size());
    r.score.verified = r.truncated ? 0.0 : made[task_of[i]]->verify(example, reply.answer);
    r.score.thinking_tokens = reply.thinking_tokens;
    for (const auto& call : runs[k].calls) r.score.tool_calls += call.ok() ? 1 : 0;
    out.push_back(std::move(r));
  }
  model->train();  // the engine switched it to inference mode
  return out;
}

}  // namespace muse

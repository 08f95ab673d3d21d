#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace muse {
namespace {

// The finished sequence's result, with its model input when the request asked for it.
SequenceResult take_result(Sequence& seq) {
  if (seq.params.keep_inputs) {
    seq.result.positions = seq.positions;
    seq.result.patches = seq.patches;
  }
  return std::move(seq.result);
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// log p of every token under `logits` is logits[i] - lse.
double log_sum_exp(const float* logits, int64_t n) {
  const float max = *std::max_element(logits, logits + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  return max + std::log(sum);
}

}  // namespace

struct Engine::Events {
  struct Item {
    std::shared_ptr<const StreamCallback> callback;
    std::shared_ptr<EventQueue> queue;
    TokenEvent event;
  };
  std::vector<Item> items;
  std::vector<SequenceResult> results;
};

struct Engine::StepCounts {
  int64_t forwards = 0, decode_tokens = 0, prefill_tokens = 0, sampled = 0, forced = 0, reserve_failures = 0;
  int64_t commands = 0;  // applied this step
  double model_seconds = 0;
  Clock::time_point start = Clock::now();
};

EngineOptions EngineOptions::for_device(const torch::Device& device) {
  EngineOptions o;
  o.fused_cpu_decode = device.is_cpu();
  return o;
}

Engine::Engine(Transformer model, torch::Device device, EngineOptions options)
    : model_(std::move(model)), device_(device), options_(std::move(options)), config_(model_->config()) {
  model_->eval();
  if (options_.max_step_tokens < 1) throw MuseError("max_step_tokens must be >= 1");
  if (options_.max_running < 1) throw MuseError("max_running must be >= 1");
  pool_ = std::make_unique<KVPool>(config_, options_.kv_mem, options_.block_size, device_);
  pool_->enable_prefix_cache(options_.prefix_cache);
  scheduler_ = std::make_unique<Scheduler>(*pool_, config_,
                                           SchedulerLimits{options_.max_step_tokens, options_.max_running});
  // Reproducible: the kernel for small batches, OpenBLAS for large ones (either is exact run to run).
  runner_ = std::make_unique<BatchRunner>(model_, device_, *pool_, options_.fused_cpu_decode, options_.threads,
                                          options_.reproducible ? 32 : -1);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.kv_bytes_capacity = pool_->capacity_bytes();
}

Engine::~Engine() { stop(); }

int64_t Engine::blocks_for_request(int64_t prompt_tokens, int max_tokens) const {
  return scheduler_->blocks_for_request(prompt_tokens, max_tokens);
}

// ---------------------------------------------------------------------------------------------------------------
// Submissions (any thread): validate now, apply at the next step.

DecodeRules Engine::rules_for(const RequestParams& params) const {
  params.validate(config_.vocab_size);
  if (!params.stop_strings.empty() && !options_.token_text)
    throw MuseError("stop strings need the engine's token_text (token id -> text)");
  DecodeRules rules(params, config_.vocab_size, config_.max_seq_len, options_.token_text);
  rules.set_unsampleable(static_cast<int>(config_.patch_token_id));
  return rules;
}

void Engine::submit(Command command) {
  std::lock_guard<std::mutex> lock(mutex_);
  commands_.push_back(std::move(command));
  work_cv_.notify_all();
}

SeqId Engine::add(const Prompt& prompt, RequestParams params) { return add_samples(prompt, std::move(params), 1)[0]; }

std::vector<SeqId> Engine::add_samples(const Prompt& prompt, RequestParams params, int samples) {
  if (samples < 1) throw MuseError("add_samples: samples must be >= 1");
  const int64_t n = static_cast<int64_t>(prompt.tokens.size());
  if (n == 0) throw MuseError("engine: empty prompt");
  if (n >= config_.max_seq_len)
    throw MuseError("prompt is " + std::to_string(n) + " tokens; this model's context is " +
                        std::to_string(config_.max_seq_len),
                    ErrorKind::OverCapacity);
  for (int id : prompt.tokens)
    if (id < 0 || id >= config_.vocab_size)
      throw MuseError("prompt token " + std::to_string(id) + " is outside the vocabulary");
  if (!prompt.positions.empty() && static_cast<int64_t>(prompt.positions.size()) != n)
    throw MuseError("prompt has " + std::to_string(n) + " tokens but " + std::to_string(prompt.positions.size()) +
                    " positions");
  if (prompt.patches.defined() && prompt.patches.numel() > 0) {
    const int64_t slots = config_.patch_token_id < 0
                              ? 0
                              : std::count(prompt.tokens.begin(), prompt.tokens.end(), config_.patch_token_id);
    if (prompt.patches.dim() != 2 || prompt.patches.size(0) != slots)
      throw MuseError("prompt has " + std::to_string(slots) + " <|patch|> tokens but patches of shape " +
                      std::to_string(prompt.patches.dim() == 2 ? prompt.patches.size(0) : -1) + " rows");
  }
  rules_for(params);
  const int64_t need = blocks_for_request(n, params.sampling.max_tokens);
  if (need > pool_->num_blocks())
    throw MuseError("over capacity: a " + std::to_string(n) + "-token prompt with max_tokens " +
                        std::to_string(params.sampling.max_tokens) + " needs up to " +
                        std::to_string(need * pool_->block_bytes()) + " bytes of KV; the pool (--kv-mem) holds " +
                        std::to_string(pool_->capacity_bytes()),
                    ErrorKind::OverCapacity);
  Command c;
  c.kind = Command::Add;
  c.prompt = prompt;
  c.params = std::move(params);
  std::lock_guard<std::mutex> lock(mutex_);
  c.id = next_id_++;
  live_.insert(c.id);
  std::vector<SeqId> ids{c.id};
  commands_.push_back(std::move(c));
  if (samples > 1) {  // queued under the same lock: one step applies both, before the first token is sampled
    Command f;
    f.kind = Command::Fork;
    f.id = ids[0];
    for (int i = 1; i < samples; ++i) {
      f.child_ids.push_back(next_id_++);
      live_.insert(f.child_ids.back());
      ids.push_back(f.child_ids.back());
    }
    commands_.push_back(std::move(f));
  }
  work_cv_.notify_all();
  return ids;
}

std::vector<SeqId> Engine::fork(SeqId parent, int n, std::vector<RequestParams> params) {
  if (n < 0) throw MuseError("fork: n must be >= 0");
  if (!params.empty() && static_cast<int>(params.size()) != n)
    throw MuseError("fork: " + std::to_string(params.size()) + " params for " + std::to_string(n) + " children");
  for (const auto& p : params) rules_for(p);
  Command c;
  c.kind = Command::Fork;
  c.id = parent;
  c.child_params = std::move(params);
  std::lock_guard<std::mutex> lock(mutex_);
  for (int i = 0; i < n; ++i) {
    c.child_ids.push_back(next_id_++);
    live_.insert(c.child_ids.back());
  }
  auto ids = c.child_ids;
  commands_.push_back(std::move(c));
  work_cv_.notify_all();
  return ids;
}

void Engine::cancel(SeqId id) {
  Command c;
  c.kind = Command::Cancel;
  c.id = id;
  submit(std::move(c));
}

void Engine::force(SeqId id, std::vector<int> tokens) { force(id, Prompt::of(tokens)); }

void Engine::force(SeqId id, Prompt segment) {
  int64_t patch_tokens = 0;
  for (int t : segment.tokens) {
    if (t < 0 || t >= config_.vocab_size)
      throw MuseError("forced token " + std::to_string(t) + " is outside the vocabulary");
    if (config_.patch_token_id >= 0 && t == config_.patch_token_id) ++patch_tokens;
  }
  const int64_t patch_rows = segment.patches.defined() ? segment.patches.size(0) : 0;
  if (patch_rows != patch_tokens || (patch_rows > 0 && (segment.patches.dim() != 2 ||
                                                        segment.patches.size(1) != config_.patch_dim())))
    throw MuseError("forced segment has " + std::to_string(patch_tokens) + " <|patch|> tokens but " +
                    std::to_string(patch_rows) + " patch rows (of " + std::to_string(config_.patch_dim()) +
                    " floats each expected)");
  if (!segment.positions.empty() && segment.positions.size() != segment.tokens.size())
    throw MuseError("forced segment has " + std::to_string(segment.tokens.size()) + " tokens but " +
                    std::to_string(segment.positions.size()) + " positions");
  Command c;
  c.kind = Command::Force;
  c.id = id;
  c.forced = std::move(segment);
  submit(std::move(c));
}

void Engine::end_thinking(SeqId id) {
  Command c;
  c.kind = Command::EndThinking;
  c.id = id;
  submit(std::move(c));
}

// ---------------------------------------------------------------------------------------------------------------
// Apply: the commands that arrived since the last step.

int64_t Engine::apply_commands(Events& events) {
  std::vector<Command> commands;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands.swap(commands_);
  }
  for (auto& c : commands) {
    switch (c.kind) {
      case Command::Add:
        enqueue(Sequence::start(c.id, c.prompt, c.params, rules_for(c.params), device_), events);
        break;
      case Command::Fork:
        apply_fork(c, events);
        break;
      case Command::Cancel:
        if (Sequence* s = scheduler_->find(c.id); s && !s->done()) finish(*s, FinishReason::Cancelled, events);
        break;
      case Command::Force:
        if (Sequence* s = scheduler_->find(c.id); s && !s->done()) apply_force(*s, c.forced, events);
        break;
      case Command::EndThinking:
        if (Sequence* s = scheduler_->find(c.id); s && !s->done()) s->rules.end_thinking();
        break;
    }
  }
  return static_cast<int64_t>(commands.size());
}

void Engine::apply_fork(Command& c, Events& events) {
  Sequence* parent = scheduler_->find(c.id);
  for (size_t i = 0; i < c.child_ids.size(); ++i) {
    if (parent == nullptr || parent->done()) {
      SequenceResult r;
      r.id = c.child_ids[i];
      r.parent = c.id;
      r.finish_reason = FinishReason::Error;
      r.error = "fork: sequence " + std::to_string(c.id) + " is not running";
      events.results.push_back(std::move(r));
      continue;
    }
    const RequestParams* own = c.child_params.empty() ? nullptr : &c.child_params[i];
    const DecodeRules own_rules = own ? rules_for(*own) : DecodeRules{};
    enqueue(parent->fork_child(c.child_ids[i], static_cast<int>(i), own, own ? &own_rules : nullptr), events);
  }
}

void Engine::apply_force(Sequence& seq, const Prompt& segment, Events& events) {
  const int32_t base = seq.next_t;
  if (segment.patches.defined() && segment.patches.numel() > 0) {
    auto pixels = segment.patches.to(device_, torch::kFloat32);
    seq.patches = seq.patches.defined() ? torch::cat({seq.patches, pixels}) : pixels;
  }
  for (size_t i = 0; i < segment.tokens.size(); ++i) {
    std::array<int32_t, 3> position{};
    if (!segment.positions.empty()) {
      const auto& rel = segment.positions[i];
      position = {base + rel[0], base + rel[1], base + rel[2]};
    }
    append_token(seq, segment.tokens[i], /*forced=*/true, /*logits=*/nullptr, /*from_model=*/false, events,
                 segment.positions.empty() ? nullptr : &position);
    if (seq.done()) return;
  }
  if (!segment.positions.empty())
    seq.next_t = base + (segment.next_t >= 0 ? segment.next_t : segment.positions.back()[0] + 1);
  if (seq.state == SeqState::Parked) {
    seq.state = SeqState::Decoding;  // its pause token (and these) are fed with the next step
    seq.refresh_state();
  }
}

// A new sequence (or fork) waits for admission, unless it has nothing left to generate.
void Engine::enqueue(std::unique_ptr<Sequence> seq, Events& events) {
  if (seq->rules.exhausted()) {
    finish(*seq, FinishReason::Length, events);
    events.results.push_back(take_result(*seq));
    return;
  }
  scheduler_->enqueue(std::move(seq));
}

// ---------------------------------------------------------------------------------------------------------------
// Run: the planned forward passes. A failing forward fails its rows, never the engine.

void Engine::run(const StepPlan& plan, Events& events, StepCounts& counts) {
  auto fail = [&](Sequence& s, const std::exception& e) {
    s.result.error = e.what();
    finish(s, FinishReason::Error, events);
  };
  if (!plan.decode.empty()) {
    // Logits that point into the fused decoder's output are overwritten by this forward: keep the unsampled.
    scheduler_->for_each_running([&](Sequence& s) { s.own_logits(config_.vocab_size); });
    const auto t0 = Clock::now();
    try {
      runner_->decode(plan.decode);
      counts.decode_tokens += static_cast<int64_t>(plan.decode.size());
    } catch (const std::exception& e) {
      for (Sequence* s : plan.decode) fail(*s, e);
    }
    counts.model_seconds += seconds_since(t0);
    ++counts.forwards;
    for (Sequence* s : plan.decode) scheduler_->link_children(*s);
  }
  for (const auto& [s, chunk] : plan.prefill) {
    const auto t0 = Clock::now();
    try {
      runner_->prefill(*s, chunk);
      (chunk == 1 ? counts.decode_tokens : counts.prefill_tokens) += chunk;
    } catch (const std::exception& e) {
      fail(*s, e);
    }
    counts.model_seconds += seconds_since(t0);
    ++counts.forwards;
    scheduler_->link_children(*s);
  }
  counts.reserve_failures += plan.reserve_failures;
}

// ---------------------------------------------------------------------------------------------------------------
// Sample: one token for every sequence whose logits are fresh (parents and freshly linked forks alike).

void Engine::sample_ready(Events& events, StepCounts& counts) {
  // Choosing reads only the sequence's own logits, rules and RNG: the choices run on the fused decoder's
  // threads when there are several, then the tokens are appended in order on this thread.
  ready_.clear();
  scheduler_->for_each_running([&](Sequence& s) {
    if (!s.ready_to_sample()) return;
    if (s.params.hold && s.result.tokens.empty()) {
      s.state = SeqState::Parked;  // a prefix holder: prefilled, nothing sampled, waits for forks or cancel()
      return;
    }
    ready_.push_back(&s);
  });
  choices_.resize(ready_.size());
  ThreadPool* pool = runner_->pool();
  // Worth a parallel run (a few us to start, far more when another process holds a core) from ~64k logits on.
  const bool parallel = pool && pool->threads() > 1 && ready_.size() > 1 &&
                        static_cast<int64_t>(ready_.size()) * config_.vocab_size >= (int64_t{1} << 16);
  if (parallel) {
    std::exception_ptr error;
    std::mutex error_mutex;
    pool->run(static_cast<int64_t>(ready_.size()), [&](int64_t i, int) {
      try {
        Sequence& s = *ready_[static_cast<size_t>(i)];
        choices_[static_cast<size_t>(i)] = s.rules.choose(s.fresh_logits, s.rng);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
  } else {
    for (size_t i = 0; i < ready_.size(); ++i) choices_[i] = ready_[i]->rules.choose(ready_[i]->fresh_logits, ready_[i]->rng);
  }
  for (size_t i = 0; i < ready_.size(); ++i) {
    Sequence& s = *ready_[i];
    const auto& choice = choices_[i];
    append_token(s, choice.token, choice.forced, s.fresh_logits, /*from_model=*/true, events);
    (choice.forced ? counts.forced : counts.sampled) += 1;
  }
}

void Engine::append_token(Sequence& seq, int token, bool forced, const float* logits, bool from_model,
                          Events& events, const std::array<int32_t, 3>* position) {
  seq.tokens.push_back(token);
  if (position) {
    seq.positions.push_back(*position);
  } else {
    seq.positions.push_back({seq.next_t, seq.next_t, seq.next_t});
    ++seq.next_t;
  }
  auto& r = seq.result;
  r.tokens.push_back(token);
  r.forced.push_back(forced);
  TokenEvent event;
  event.id = seq.id;
  event.token = token;
  event.forced = forced;
  event.logprob = std::numeric_limits<float>::quiet_NaN();
  const bool want_logprobs = seq.params.logprobs || seq.params.top_logprobs > 0;
  if (want_logprobs && logits) {
    const int64_t V = config_.vocab_size;
    const double lse = log_sum_exp(logits, V);
    event.logprob = static_cast<float>(logits[token] - lse);
    if (seq.params.top_logprobs > 0) {
      std::vector<int> order(static_cast<size_t>(V));
      std::iota(order.begin(), order.end(), 0);
      const auto k = static_cast<size_t>(seq.params.top_logprobs);
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [&](int a, int b) { return logits[a] > logits[b]; });
      for (size_t i = 0; i < k; ++i) event.top_logprobs.emplace_back(order[i], static_cast<float>(logits[order[i]] - lse));
    }
  }
  if (want_logprobs) {
    r.logprobs.push_back(event.logprob);
    if (seq.params.top_logprobs > 0) r.top_logprobs.push_back(event.top_logprobs);
  }
  if (seq.params.keep_logits)
    r.logits.push_back(logits ? std::vector<float>(logits, logits + config_.vocab_size) : std::vector<float>{});

  const auto verdict = seq.rules.append(token, forced, from_model, static_cast<int64_t>(seq.tokens.size()));
  r.thinking_tokens = seq.rules.thinking_tokens();
  if (!verdict.stop_string.empty()) r.stop_string = verdict.stop_string;
  if (verdict.finish != FinishReason::None) {
    event.finished = true;  // the last token carries the news
    event.finish_reason = verdict.finish;
    finish(seq, verdict.finish, events, /*notify=*/false);
  } else if (verdict.park) {
    event.parked = true;
    seq.state = SeqState::Parked;
    ++r.parks;
  }
  if (seq.callback || seq.events) events.items.push_back({seq.callback, seq.events, std::move(event)});
}

void Engine::finish(Sequence& seq, FinishReason reason, Events& events, bool notify) {
  if (seq.done()) return;
  seq.state = SeqState::Finished;
  seq.result.finish_reason = reason;
  if (!notify || !(seq.callback || seq.events)) return;
  TokenEvent notice;  // no token: just the news that the sequence ended
  notice.id = seq.id;
  notice.finished = true;
  notice.finish_reason = reason;
  notice.logprob = std::numeric_limits<float>::quiet_NaN();
  events.items.push_back({seq.callback, seq.events, std::move(notice)});
}

// ---------------------------------------------------------------------------------------------------------------
// Retire and deliver.

void Engine::retire(Events& events) {
  for (auto& seq : scheduler_->retire_finished()) events.results.push_back(take_result(*seq));
  scheduler_->admit();  // freed blocks may let the queue in
}

void Engine::deliver(Events& events) {
  for (auto& item : events.items) {
    if (item.callback) (*item.callback)(item.event);
    if (item.queue) item.queue->push(std::move(item.event));
  }
}

void Engine::publish(Events& events, const StepCounts& counts) {
  int64_t parked = 0;
  scheduler_->for_each_running([&](Sequence& s) { parked += s.state == SeqState::Parked; });
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& r : events.results) {
    live_.erase(r.id);
    ++stats_.finished;
    if (r.parent == 0) stats_.prefix_cached_tokens += r.cached_tokens;
    if (options_.keep_results) results_[r.id] = std::move(r);
  }
  stats_.steps += 1;
  stats_.forwards += counts.forwards;
  stats_.decode_tokens += counts.decode_tokens;
  stats_.prefill_tokens += counts.prefill_tokens;
  stats_.sampled_tokens += counts.sampled;
  stats_.forced_tokens += counts.forced;
  stats_.model_seconds += counts.model_seconds;
  stats_.step_seconds += seconds_since(counts.start);
  stats_.reserve_failures += counts.reserve_failures;
  stats_.kv_bytes_in_use = pool_->bytes_in_use();
  stats_.kv_peak_bytes = std::max(stats_.kv_peak_bytes, stats_.kv_bytes_in_use);
  stats_.prefix_cache_blocks = pool_->cached_blocks();
  stats_.prefix_cache_evictions = pool_->cache_evictions();
  stats_.running = scheduler_->running();
  stats_.queued = scheduler_->queued();
  stats_.parked = parked;
  // Work remains while something can still move. A step that moved nothing (everything left is parked, or
  // queued behind parked sequences' reservations) would repeat itself until a command arrives, so the loop
  // sleeps instead of spinning: add/fork/cancel/force wake it.
  const bool moved = counts.forwards > 0 || counts.sampled + counts.forced > 0 || !events.results.empty() ||
                     !events.items.empty() || counts.commands > 0;
  active_ = moved && (stats_.running > parked || stats_.queued > 0);
  holding_ = parked > 0;
  done_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------------------------
// The step

bool Engine::step() {
  std::lock_guard<std::mutex> step_lock(step_mutex_);
  torch::NoGradGuard no_grad;
  StepCounts counts;
  Events events;
  counts.commands = apply_commands(events);
  retire(events);
  const StepPlan plan = scheduler_->plan();
  run(plan, events, counts);
  sample_ready(events, counts);
  retire(events);
  deliver(events);
  publish(events, counts);
  std::lock_guard<std::mutex> lock(mutex_);
  return active_ || !commands_.empty();
}

// ---------------------------------------------------------------------------------------------------------------
// Driving and results

void Engine::run_until_idle() {
  while (step()) {
  }
}

void Engine::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || active_ || !commands_.empty(); });
        if (stopping_) return;
      }
      step();
    }
  });
}

void Engine::stop() {
  std::thread loop;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    work_cv_.notify_all();
    loop.swap(loop_);
  }
  if (loop.joinable()) loop.join();
}

std::vector<SequenceResult> Engine::run_batch(const std::vector<Prompt>& prompts, const RequestParams& params) {
  return run_batch(prompts, std::vector<RequestParams>(prompts.size(), params));
}

std::vector<SequenceResult> Engine::run_batch(const std::vector<Prompt>& prompts,
                                              const std::vector<RequestParams>& params) {
  if (params.size() != prompts.size())
    throw MuseError("run_batch: " + std::to_string(params.size()) + " params for " + std::to_string(prompts.size()) +
                    " prompts");
  for (const auto& p : params)
    if (!p.pause_tokens.empty()) throw MuseError("run_batch: pause tokens need a caller that resumes them");
  if (!options_.keep_results) throw MuseError("run_batch: this engine keeps no results (keep_results = false)");
  std::vector<SeqId> ids;
  ids.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) ids.push_back(add(prompts[i], params[i]));
  bool looping;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    looping = loop_.joinable();
  }
  if (!looping) run_until_idle();
  std::vector<SequenceResult> out;
  out.reserve(ids.size());
  for (SeqId id : ids) out.push_back(wait(id));
  return out;
}

SequenceResult Engine::generate(const Prompt& prompt, RequestParams params,
                                const std::function<void(const TokenEvent&)>& on_event) {
  if (!options_.keep_results) throw MuseError("generate: this engine keeps no results (keep_results = false)");
  auto events = std::make_shared<EventQueue>();
  params.events = events;
  const SeqId id = add(prompt, std::move(params));
  bool looping;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    looping = loop_.joinable();
  }
  try {
    for (bool finished = false; !finished;) {
      if (!looping) step();
      auto next = looping ? events->pop(std::chrono::milliseconds(100)) : events->try_pop();
      for (; next; next = events->try_pop()) {
        if (on_event) on_event(*next);
        finished = finished || next->finished;
      }
      if (!looping && !finished && !has_work())  // parked, and on_event did not resume it
        throw MuseError("generate: the sequence parked on a pause token and was not resumed");
    }
  } catch (...) {
    cancel(id);
    if (!looping) run_until_idle();
    try {
      wait(id);  // drop the cancelled result: nobody will take it
    } catch (const MuseError&) {
    }
    throw;
  }
  return wait(id);
}

bool Engine::looping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return loop_.joinable();
}

SequenceResult Engine::wait(SeqId id) {
  if (!options_.keep_results) throw MuseError("wait: this engine keeps no results (keep_results = false)");
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [&] { return results_.count(id) > 0 || live_.count(id) == 0; });
  auto it = results_.find(id);
  if (it == results_.end())
    throw MuseError("wait: no sequence " + std::to_string(id) + " (or its result was taken)", ErrorKind::NotFound);
  SequenceResult r = std::move(it->second);
  results_.erase(it);
  return r;
}

std::optional<SequenceResult> Engine::take(SeqId id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = results_.find(id);
  if (it == results_.end()) return std::nullopt;
  SequenceResult r = std::move(it->second);
  results_.erase(it);
  return r;
}

bool Engine::has_work() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_ || !commands_.empty();
}

bool Engine::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !active_ && !holding_ && commands_.empty();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  EngineStats s = stats_;
  s.kv_bytes_in_use = pool_->bytes_in_use();
  return s;
}

}  // namespace muse

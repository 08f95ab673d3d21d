#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "engine/cpu_decode.h"
#include "util/error.h"

namespace muse {
namespace {

using Clock = std::chrono::steady_clock;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool contains(const std::vector<int>& ids, int id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// log p of every token under `logits` is logits[i] - lse.
double log_sum_exp(const float* logits, int64_t n) {
  const float max = *std::max_element(logits, logits + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - max);
  return max + std::log(sum);
}

ModelInput model_input(torch::Tensor tokens, torch::Tensor positions) {
  ModelInput input;
  input.tokens = std::move(tokens);
  input.positions = std::move(positions);
  return input;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Requests

Prompt Prompt::of(const TokenSequence& sequence) {
  Prompt p;
  p.tokens = sequence.tokens;
  p.positions = sequence.positions;
  p.next_t = sequence.next_t();
  if (sequence.patch_count() > 0)
    p.patches = torch::tensor(sequence.patches, torch::kFloat32)
                    .view({static_cast<int64_t>(sequence.patch_count()), sequence.patch_dim});
  return p;
}

Prompt Prompt::of(const std::vector<int>& tokens) {
  Prompt p;
  p.tokens = tokens;
  return p;
}

void RequestParams::validate(int64_t vocab_size) const {
  sampling.validate();
  auto check = [&](int id, const std::string& what) {
    if (id < 0 || id >= vocab_size)
      throw MuseError(what + " " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(vocab_size) +
                      " tokens)");
  };
  for (int id : sampling.stop_tokens) check(id, "stop token");
  if (sampling.think_end_token >= 0) check(sampling.think_end_token, "think_end_token");
  if (continue_token >= 0) check(continue_token, "continue_token");
  for (int id : allowed_tokens) check(id, "allowed token");
  for (int id : banned_tokens) check(id, "banned token");
  if (!allowed_tokens.empty() &&
      std::all_of(allowed_tokens.begin(), allowed_tokens.end(), [&](int id) { return contains(banned_tokens, id); }))
    throw MuseError("every allowed token is also banned: nothing could be sampled");
  if (top_logprobs < 0 || top_logprobs > vocab_size)
    throw MuseError("top_logprobs must be in [0, vocab size], got " + std::to_string(top_logprobs));
  for (const auto& s : stop_strings)
    if (s.empty()) throw MuseError("stop strings must not be empty");
}

// ---------------------------------------------------------------------------------------------------------------
// Sequence state (owned by the stepping thread)

struct Engine::Sequence {
  SeqId id = 0;
  SeqId parent = 0;
  RequestParams params;
  std::shared_ptr<const StreamCallback> callback;
  Rng rng;
  std::vector<int> tokens;                        // prompt, then everything generated
  std::vector<std::array<int32_t, 3>> positions;  // per token
  int32_t next_t = 0;
  int64_t base_length = 0;  // tokens that are not generated (prompt; for a fork, the parent's prompt)
  int64_t prompt_length = 0;  // tokens whose patches (if any) are in `patches`
  torch::Tensor patches;      // [N, patch_dim] of the prompt's <|patch|> tokens
  SequenceKV kv;
  std::vector<float> logits;  // raw logits after token kv.length - 1 when logits_at == kv.length
  int64_t logits_at = -1;
  SeqId wait_for = 0;    // fork: the parent whose KV this child shares once the parent stores fork_length tokens
  int64_t fork_length = 0;
  int generated = 0;     // counted toward max_tokens
  bool thinking = false;
  std::string text_tail;  // generated text, last max_stop_len bytes (stop strings)
  std::vector<uint8_t> blocked;  // allowed/banned mask, 1 = never sample (empty: none)
  bool done = false;
  SequenceResult result;

  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - kv.length; }
  bool ready_to_sample() const {
    return !done && wait_for == 0 && pending() == 0 && logits_at == kv.length && kv.length > 0;
  }
};

struct Engine::Events {
  std::vector<std::pair<std::shared_ptr<const StreamCallback>, TokenEvent>> items;
  std::vector<SequenceResult> results;
};

// ---------------------------------------------------------------------------------------------------------------

Engine::Engine(Transformer model, torch::Device device, EngineOptions options)
    : model_(std::move(model)), device_(device), options_(std::move(options)), config_(model_->config()) {
  model_->eval();
  if (options_.max_step_tokens < 1) throw MuseError("max_step_tokens must be >= 1");
  if (options_.max_running < 1) throw MuseError("max_running must be >= 1");
  pool_ = std::make_unique<KVPool>(config_, options_.kv_mem, options_.block_size, device_);
  if (options_.fused_cpu_decode) {
    if (!device_.is_cpu()) throw MuseError("the fused decode path runs on the CPU only");
    decoder_ = std::make_unique<CpuDecoder>(*model_);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.kv_bytes_capacity = pool_->capacity_bytes();
}

Engine::~Engine() { stop(); }

int64_t Engine::blocks_for_request(int64_t prompt_tokens, int max_tokens) const {
  return pool_->blocks_for(std::min<int64_t>(prompt_tokens + max_tokens, config_.max_seq_len));
}

SeqId Engine::add(const Prompt& prompt, RequestParams params) {
  const int64_t n = static_cast<int64_t>(prompt.tokens.size());
  if (n == 0) throw MuseError("engine: empty prompt");
  if (n >= config_.max_seq_len)
    throw MuseError("prompt is " + std::to_string(n) + " tokens; this model's context is " +
                    std::to_string(config_.max_seq_len));
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
  params.validate(config_.vocab_size);
  if (!params.stop_strings.empty() && !options_.token_text)
    throw MuseError("stop strings need the engine's token_text (token id -> text)");
  const int64_t need = blocks_for_request(n, params.sampling.max_tokens);
  if (need > pool_->num_blocks())
    throw MuseError("over capacity: a " + std::to_string(n) + "-token prompt with max_tokens " +
                    std::to_string(params.sampling.max_tokens) + " needs up to " +
                    std::to_string(need * pool_->block_bytes()) + " bytes of KV; the pool (--kv-mem) holds " +
                    std::to_string(pool_->capacity_bytes()));
  Command c;
  c.kind = Command::Add;
  c.prompt = prompt;
  c.params = std::move(params);
  std::lock_guard<std::mutex> lock(mutex_);
  c.id = next_id_++;
  live_.insert(c.id);
  const SeqId id = c.id;
  commands_.push_back(std::move(c));
  work_cv_.notify_all();
  return id;
}

std::vector<SeqId> Engine::fork(SeqId parent, int n, std::vector<RequestParams> params) {
  if (n < 0) throw MuseError("fork: n must be >= 0");
  if (!params.empty() && static_cast<int>(params.size()) != n)
    throw MuseError("fork: " + std::to_string(params.size()) + " params for " + std::to_string(n) + " children");
  for (const auto& p : params) {
    p.validate(config_.vocab_size);
    if (!p.stop_strings.empty() && !options_.token_text)
      throw MuseError("stop strings need the engine's token_text (token id -> text)");
  }
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
  std::lock_guard<std::mutex> lock(mutex_);
  commands_.push_back(std::move(c));
  work_cv_.notify_all();
}

void Engine::force(SeqId id, std::vector<int> tokens) {
  for (int t : tokens) {
    if (t < 0 || t >= config_.vocab_size)
      throw MuseError("forced token " + std::to_string(t) + " is outside the vocabulary");
    if (config_.patch_token_id >= 0 && t == config_.patch_token_id)
      throw MuseError("forced tokens cannot be <|patch|> (image patches enter with the prompt)");
  }
  Command c;
  c.kind = Command::Force;
  c.id = id;
  c.tokens = std::move(tokens);
  std::lock_guard<std::mutex> lock(mutex_);
  commands_.push_back(std::move(c));
  work_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------------------------------
// Bookkeeping

int64_t Engine::final_length(const Sequence& seq) const {
  return std::min<int64_t>(seq.base_length + seq.params.sampling.max_tokens, config_.max_seq_len);
}

int64_t Engine::future_need(const Sequence& seq) const {
  const int64_t final = final_length(seq);
  if (seq.wait_for != 0) {
    // Will share the parent's full blocks of the first fork_length tokens; +1 covers the copy-on-write the
    // parent may then need for its shared partial block.
    return std::max<int64_t>(0, pool_->blocks_for(final) - seq.fork_length / pool_->block_size()) + 1;
  }
  return pool_->future_blocks(seq.kv, final);
}

Engine::Sequence* Engine::find_running(SeqId id) {
  auto it = running_.find(id);
  return it == running_.end() ? nullptr : it->second.get();
}

bool Engine::try_admit(std::unique_ptr<Sequence>& seq) {
  if (static_cast<int>(running_.size()) >= options_.max_running) return false;
  if (seq->wait_for != 0 && find_running(seq->wait_for) == nullptr) {
    // The parent is gone: continue on its own (the tokens are all there; it prefills them itself).
    seq->wait_for = 0;
  }
  int64_t reserved = 0;
  for (const auto& [id, r] : running_) reserved += future_need(*r);
  if (reserved + future_need(*seq) > pool_->free_blocks()) return false;
  Sequence* s = seq.get();
  running_[s->id] = std::move(seq);
  if (s->wait_for != 0) {
    Sequence* parent = find_running(s->wait_for);
    if (parent->kv.length >= s->fork_length) link_children(*parent, false);
  }
  return true;
}

void Engine::admit() {
  while (!queue_.empty()) {
    if (!try_admit(queue_.front())) break;
    queue_.pop_front();
  }
}

void Engine::link_children(Sequence& parent, bool parent_leaving) {
  std::vector<Sequence*> children;
  for (auto& [id, s] : running_)
    if (s->wait_for == parent.id && !s->done) children.push_back(s.get());
  for (Sequence* child : children) {
    if (parent.kv.length < child->fork_length) {
      if (!parent_leaving) continue;  // not prefilled that far yet
      // The parent leaves before storing the shared prefix: the child starts over on its own (it holds no
      // blocks while waiting), at the front of the queue, followed by everything waiting on it.
      child->wait_for = 0;
      requeue_front(*child);
      continue;
    }
    int64_t share = child->fork_length;
    const bool copy_logits = parent.logits_at == share && share == static_cast<int64_t>(child->tokens.size());
    if (!copy_logits && share == static_cast<int64_t>(child->tokens.size())) --share;  // re-feed the last token
    child->kv = pool_->fork(parent.kv, share);
    if (copy_logits) {
      child->logits = parent.logits;
      child->logits_at = share;
    }
    child->wait_for = 0;
    link_children(*child, false);  // grandchildren forked before this child had its KV
  }
}

void Engine::requeue_front(Sequence& first) {
  std::vector<SeqId> order = {first.id};
  for (size_t i = 0; i < order.size(); ++i)
    for (auto& [id, s] : running_)
      if (s->wait_for == order[i]) order.push_back(id);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto found = running_.find(*it);
    queue_.push_front(std::move(found->second));
    running_.erase(found);
  }
}

torch::Tensor Engine::positions_of(const Sequence& seq, int64_t begin, int64_t count) const {
  auto positions = torch::empty({1, count, 3}, torch::kInt64);
  auto* out = positions.data_ptr<int64_t>();
  for (int64_t i = begin; i < begin + count; ++i)
    for (int a = 0; a < 3; ++a) *out++ = seq.positions[static_cast<size_t>(i)][static_cast<size_t>(a)];
  return positions;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

namespace {

// The allowed/banned mask of a request: 1 = never sample; empty when the request restricts nothing.
std::vector<uint8_t> blocked_tokens(const RequestParams& params, int64_t vocab_size) {
  if (params.allowed_tokens.empty() && params.banned_tokens.empty()) return {};
  std::vector<uint8_t> blocked(static_cast<size_t>(vocab_size), params.allowed_tokens.empty() ? 0 : 1);
  for (int id : params.allowed_tokens) blocked[static_cast<size_t>(id)] = 0;
  for (int id : params.banned_tokens) blocked[static_cast<size_t>(id)] = 1;
  return blocked;
}

}  // namespace

// A new sequence (or fork) waits for admission, unless it has nothing left to generate.
void Engine::enqueue(std::unique_ptr<Sequence> seq, Events& events) {
  if (seq->generated >= seq->params.sampling.max_tokens) {
    finish(*seq, "length", events);
    events.results.push_back(std::move(seq->result));
    return;
  }
  queue_.push_back(std::move(seq));
}

void Engine::apply_commands(Events& events) {
  std::vector<Command> commands;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands.swap(commands_);
  }
  auto find_any = [&](SeqId id) -> Sequence* {
    if (Sequence* s = find_running(id)) return s;
    for (auto& s : queue_)
      if (s->id == id) return s.get();
    return nullptr;
  };
  for (auto& c : commands) {
    switch (c.kind) {
      case Command::Add: {
        auto seq = std::make_unique<Sequence>();
        seq->id = c.id;
        seq->params = std::move(c.params);
        if (seq->params.on_token) seq->callback = std::make_shared<const StreamCallback>(seq->params.on_token);
        seq->params.on_token = nullptr;
        seq->rng = Rng(seq->params.sampling.seed);
        seq->tokens = c.prompt.tokens;
        const int64_t n = static_cast<int64_t>(seq->tokens.size());
        if (c.prompt.positions.empty()) {
          for (int64_t t = 0; t < n; ++t)
            seq->positions.push_back({static_cast<int32_t>(t), static_cast<int32_t>(t), static_cast<int32_t>(t)});
        } else {
          seq->positions = c.prompt.positions;
        }
        seq->next_t = c.prompt.next_t >= 0 ? c.prompt.next_t : seq->positions.back()[0] + 1;
        seq->base_length = seq->prompt_length = n;
        if (c.prompt.patches.defined() && c.prompt.patches.numel() > 0)
          seq->patches = c.prompt.patches.to(device_, torch::kFloat32);
        seq->thinking = seq->params.sampling.think_end_token >= 0;
        seq->blocked = blocked_tokens(seq->params, config_.vocab_size);
        seq->result.id = seq->id;
        seq->result.prompt_tokens = n;
        enqueue(std::move(seq), events);
        break;
      }
      case Command::Fork: {
        Sequence* parent = find_any(c.id);
        for (size_t i = 0; i < c.child_ids.size(); ++i) {
          auto child = std::make_unique<Sequence>();
          child->id = c.child_ids[i];
          child->result.id = child->id;
          child->result.parent = c.id;
          if (parent == nullptr || parent->done) {
            child->result.finish_reason = "error";
            child->result.error = "fork: sequence " + std::to_string(c.id) + " is not running";
            events.results.push_back(std::move(child->result));
            continue;
          }
          Sequence& p = *parent;
          child->parent = p.id;
          child->params = c.child_params.empty() ? p.params : std::move(c.child_params[i]);
          if (c.child_params.empty()) child->params.sampling.seed = seed_mix(p.params.sampling.seed, i + 1);
          if (child->params.on_token) {
            child->callback = std::make_shared<const StreamCallback>(child->params.on_token);
            child->params.on_token = nullptr;
          } else if (c.child_params.empty()) {
            child->callback = p.callback;
          }
          child->rng = Rng(child->params.sampling.seed);
          child->tokens = p.tokens;
          child->positions = p.positions;
          child->next_t = p.next_t;
          child->base_length = p.base_length;
          child->prompt_length = p.prompt_length;
          child->patches = p.patches;
          child->generated = p.generated;
          child->thinking = p.thinking;
          child->text_tail = p.text_tail;
          child->blocked = blocked_tokens(child->params, config_.vocab_size);
          // The child's result starts as a copy of what the parent generated so far.
          const auto parent_id = child->result.parent;
          child->result = p.result;
          child->result.id = child->id;
          child->result.parent = parent_id;
          child->result.prefilled_tokens = 0;
          child->result.finish_reason.clear();
          child->wait_for = p.id;
          child->fork_length = static_cast<int64_t>(p.tokens.size());
          enqueue(std::move(child), events);
        }
        break;
      }
      case Command::Cancel: {
        if (Sequence* s = find_any(c.id); s && !s->done) finish(*s, "cancelled", events);
        break;
      }
      case Command::Force: {
        Sequence* s = find_any(c.id);
        if (!s || s->done) break;
        for (int token : c.tokens) {
          append_token(*s, token, /*forced=*/true, /*logits=*/nullptr, /*check_stops=*/false, events);
          if (s->done) break;
        }
        break;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens

void Engine::append_token(Sequence& seq, int token, bool forced, const float* logits, bool check_stops,
                          Events& events) {
  const auto& sp = seq.params.sampling;
  seq.tokens.push_back(token);
  seq.positions.push_back({seq.next_t, seq.next_t, seq.next_t});
  ++seq.next_t;
  ++seq.generated;
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
  if (seq.thinking) {
    if (token == sp.think_end_token) seq.thinking = false;
    else ++r.thinking_tokens;
  }

  std::string reason;
  if (check_stops && contains(sp.stop_tokens, token)) reason = "stop";
  if (!seq.params.stop_strings.empty() && options_.token_text) {
    const size_t before = seq.text_tail.size();
    seq.text_tail += options_.token_text(token);
    size_t longest = 0;
    for (const auto& s : seq.params.stop_strings) {
      longest = std::max(longest, s.size());
      if (!check_stops || !reason.empty()) continue;
      // Only matches that end in the new text (earlier ones were checked before).
      const size_t from = before >= s.size() ? before - s.size() + 1 : 0;
      if (seq.text_tail.find(s, from) != std::string::npos) {
        reason = "stop";
        r.stop_string = s;
      }
    }
    if (seq.text_tail.size() > longest) seq.text_tail.erase(0, seq.text_tail.size() - longest);
  }
  if (reason.empty() && seq.generated >= sp.max_tokens) reason = "length";
  if (reason.empty() && static_cast<int64_t>(seq.tokens.size()) >= config_.max_seq_len) reason = "context";
  if (!reason.empty()) {
    event.finished = true;  // the last token carries the news
    event.finish_reason = reason;
    finish(seq, reason, events, /*notify=*/false);
  }
  if (seq.callback) events.items.emplace_back(seq.callback, std::move(event));
}

void Engine::sample(Sequence& seq, Events& events) {
  const auto& sp = seq.params.sampling;
  const float* raw = seq.logits.data();
  const int V = static_cast<int>(config_.vocab_size);
  if (seq.thinking && sp.max_thinking_tokens >= 0 && seq.result.thinking_tokens >= sp.max_thinking_tokens) {
    append_token(seq, sp.think_end_token, /*forced=*/true, raw, true, events);  // budget spent
    return;
  }
  const bool below_min = seq.thinking && seq.result.thinking_tokens < sp.min_thinking_tokens;
  const bool suppress = below_min && seq.params.continue_token < 0;
  int token;
  if (seq.blocked.empty() && !suppress) {
    token = sample_token(raw, V, sp, seq.rng);
  } else {
    std::vector<float> work(raw, raw + V);
    for (size_t i = 0; i < seq.blocked.size(); ++i)
      if (seq.blocked[i]) work[i] = kNegInf;
    if (suppress) {
      // Budget forcing: the model may not stop thinking (or stop altogether) before the minimum.
      std::vector<float> masked = work;
      masked[static_cast<size_t>(sp.think_end_token)] = kNegInf;
      for (int stop : sp.stop_tokens) masked[static_cast<size_t>(stop)] = kNegInf;
      if (*std::max_element(masked.begin(), masked.end()) > kNegInf) work.swap(masked);
    }
    token = sample_token(work.data(), V, sp, seq.rng);
  }
  if (below_min && seq.params.continue_token >= 0 && (token == sp.think_end_token || contains(sp.stop_tokens, token))) {
    append_token(seq, seq.params.continue_token, /*forced=*/true, raw, true, events);  // "keep thinking"
    return;
  }
  append_token(seq, token, /*forced=*/false, raw, true, events);
}

void Engine::finish(Sequence& seq, const std::string& reason, Events& events, bool notify) {
  if (seq.done) return;
  seq.done = true;
  seq.result.finish_reason = reason;
  if (!notify || !seq.callback) return;
  TokenEvent notice;  // no token: just the news that the sequence ended
  notice.id = seq.id;
  notice.finished = true;
  notice.finish_reason = reason;
  notice.logprob = std::numeric_limits<float>::quiet_NaN();
  events.items.emplace_back(seq.callback, std::move(notice));
}

void Engine::retire_finished(Events& events) {
  std::vector<SeqId> done;
  for (auto& [id, s] : running_)
    if (s->done) done.push_back(id);
  for (SeqId id : done) {
    auto it = running_.find(id);
    if (it == running_.end()) continue;
    Sequence& s = *it->second;
    link_children(s, /*parent_leaving=*/true);
    pool_->release(s.kv);
    events.results.push_back(std::move(s.result));
    running_.erase(id);
  }
  // Queued ones hold no blocks; sequences still waiting on them go back to the queue as well.
  for (;;) {
    auto it = std::find_if(queue_.begin(), queue_.end(), [](const auto& s) { return s->done; });
    if (it == queue_.end()) break;
    std::unique_ptr<Sequence> s = std::move(*it);
    queue_.erase(it);
    link_children(*s, /*parent_leaving=*/true);
    events.results.push_back(std::move(s->result));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Forward passes

void Engine::run_decode(std::vector<Sequence*>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t V = config_.vocab_size;
  const float* logits = nullptr;
  torch::Tensor logits_tensor;
  if (decoder_) {
    std::vector<DecodeRequest> requests(rows.size());
    for (size_t b = 0; b < rows.size(); ++b) {
      const Sequence& s = *rows[b];
      requests[b].token = s.tokens[static_cast<size_t>(s.kv.length)];
      const auto& p = s.positions[static_cast<size_t>(s.kv.length)];
      requests[b].position = {p[0], p[1], p[2]};
      requests[b].kv = &s.kv;
    }
    if (!pool_view_) pool_view_ = std::make_unique<KVPoolView>(KVPoolView::of(pool_->keys(), pool_->values()));
    logits = decoder_->step(requests.data(), B, *pool_view_);
  } else {
    int64_t L = 0;
    for (const Sequence* s : rows) L = std::max(L, s->kv.length + 1);
    auto tokens = torch::empty({B, 1}, torch::kInt64);
    auto positions = torch::empty({B, 1, 3}, torch::kInt64);
    auto write = torch::empty({B}, torch::kInt64);
    auto read = torch::zeros({B, L}, torch::kInt64);
    bool ragged = false;
    auto* tok = tokens.data_ptr<int64_t>();
    auto* pos = positions.data_ptr<int64_t>();
    auto* w = write.data_ptr<int64_t>();
    auto* rd = read.data_ptr<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
      const Sequence& s = *rows[static_cast<size_t>(b)];
      const int64_t n = s.kv.length + 1;
      tok[b] = s.tokens[static_cast<size_t>(s.kv.length)];
      for (int a = 0; a < 3; ++a) pos[b * 3 + a] = s.positions[static_cast<size_t>(s.kv.length)][static_cast<size_t>(a)];
      w[b] = pool_->slot(s.kv, s.kv.length);
      for (int64_t i = 0; i < n; ++i) rd[b * L + i] = pool_->slot(s.kv, i);
      ragged = ragged || n != L;
    }
    PagedSlots slots;
    slots.write = write.to(device_);
    slots.read = read.to(device_);
    if (ragged) {
      auto mask = torch::zeros({B, 1, 1, L}, torch::kFloat32);
      auto* m = mask.data_ptr<float>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = rows[static_cast<size_t>(b)]->kv.length + 1; i < L; ++i) m[b * L + i] = kNegInf;
      slots.mask = mask.to(device_);
    }
    KVCache cache;
    cache.keys = pool_->keys();
    cache.values = pool_->values();
    cache.paged = &slots;
    logits_tensor =
        model_->forward(model_input(tokens.to(device_), positions.to(device_)), &cache)
            .select(1, 0)
            .to(torch::kCPU, torch::kFloat32)
            .contiguous();
    logits = logits_tensor.data_ptr<float>();
  }
  for (int64_t b = 0; b < B; ++b) {
    Sequence& s = *rows[static_cast<size_t>(b)];
    s.kv.length += 1;
    s.logits.assign(logits + b * V, logits + (b + 1) * V);
    s.logits_at = s.kv.length;
  }
}

void Engine::run_prefill(Sequence& seq, int64_t chunk) {
  const int64_t past = seq.kv.length, T = chunk, L = past + T;
  auto tokens = torch::empty({1, T}, torch::kInt64);
  auto* tok = tokens.data_ptr<int64_t>();
  for (int64_t i = 0; i < T; ++i) tok[i] = seq.tokens[static_cast<size_t>(past + i)];
  auto write = torch::empty({T}, torch::kInt64);
  auto read = torch::empty({1, L}, torch::kInt64);
  for (int64_t i = 0; i < T; ++i) write.data_ptr<int64_t>()[i] = pool_->slot(seq.kv, past + i);
  for (int64_t i = 0; i < L; ++i) read.data_ptr<int64_t>()[i] = pool_->slot(seq.kv, i);
  PagedSlots slots;
  slots.write = write.to(device_);
  slots.read = read.to(device_);
  if (T > 1) {
    // Query i (absolute past + i) sees keys 0 .. past + i.
    auto blocked = torch::ones({T, L}, torch::kBool).triu(past + 1);
    slots.mask = torch::zeros({1, 1, T, L}, torch::kFloat32).masked_fill_(blocked.view({1, 1, T, L}), kNegInf).to(device_);
  }
  ModelInput input = model_input(tokens.to(device_), positions_of(seq, past, T).to(device_));
  if (seq.patches.defined() && past < seq.prompt_length && config_.patch_token_id >= 0) {
    const auto begin = seq.tokens.begin();
    const int64_t first = std::count(begin, begin + past, config_.patch_token_id);
    const int64_t count = std::count(begin + past, begin + past + T, config_.patch_token_id);
    if (count > 0) input.patches = seq.patches.narrow(0, first, count);
  }
  KVCache cache;
  cache.keys = pool_->keys();
  cache.values = pool_->values();
  cache.paged = &slots;
  auto logits = model_->forward(input, &cache).select(1, T - 1).to(torch::kCPU, torch::kFloat32).contiguous();
  seq.kv.length += T;
  seq.result.prefilled_tokens += T;
  const float* data = logits.data_ptr<float>();
  seq.logits.assign(data, data + config_.vocab_size);
  seq.logits_at = seq.kv.length;
}

// ---------------------------------------------------------------------------------------------------------------
// The step

bool Engine::step() {
  std::lock_guard<std::mutex> step_lock(step_mutex_);
  torch::NoGradGuard no_grad;
  const auto step_start = Clock::now();
  Events events;
  apply_commands(events);
  retire_finished(events);
  admit();

  // Plan: every sequence with one token to feed decodes; longer pending runs (prompts, forced chunks) prefill in
  // chunks under the step's token budget.
  std::vector<Sequence*> decode_rows, prefill_rows;
  for (auto& [id, s] : running_) {
    if (s->done || s->wait_for != 0) continue;
    const int64_t pending = s->pending();
    if (pending == 1) decode_rows.push_back(s.get());
    else if (pending > 1) prefill_rows.push_back(s.get());
  }
  int64_t budget = std::max<int64_t>(options_.max_step_tokens - static_cast<int64_t>(decode_rows.size()),
                                     std::max<int64_t>(1, options_.max_step_tokens / 4));
  std::vector<std::pair<Sequence*, int64_t>> chunks;
  for (Sequence* s : prefill_rows) {
    if (budget <= 0) break;
    int64_t chunk = std::min(s->pending(), budget);
    // Prompt patches and generated tokens never share a chunk (patches are counted over the whole input).
    if (s->patches.defined() && s->kv.length < s->prompt_length)
      chunk = std::min(chunk, s->prompt_length - s->kv.length);
    chunks.emplace_back(s, chunk);
    budget -= chunk;
  }

  // Reserve KV (admission guarantees it fits; a failure only delays the row).
  int64_t failures = 0;
  std::vector<Sequence*> decoding;
  for (Sequence* s : decode_rows) {
    if (pool_->reserve(s->kv, 1)) decoding.push_back(s);
    else ++failures;
  }
  std::vector<std::pair<Sequence*, int64_t>> prefilling;
  for (auto& [s, chunk] : chunks) {
    if (pool_->reserve(s->kv, chunk)) prefilling.emplace_back(s, chunk);
    else ++failures;
  }

  double model_seconds = 0;
  int64_t forwards = 0, decode_tokens = 0, prefill_tokens = 0;
  auto fail_rows = [&](const std::vector<Sequence*>& rows, const std::exception& e) {
    for (Sequence* s : rows) {
      s->result.error = e.what();
      finish(*s, "error", events);
    }
  };
  if (!decoding.empty()) {
    const auto t0 = Clock::now();
    try {
      run_decode(decoding);
      decode_tokens += static_cast<int64_t>(decoding.size());
    } catch (const std::exception& e) {
      fail_rows(decoding, e);
    }
    model_seconds += seconds_since(t0);
    ++forwards;
    for (Sequence* s : decoding) link_children(*s, false);
  }
  for (auto& [s, chunk] : prefilling) {
    const auto t0 = Clock::now();
    try {
      run_prefill(*s, chunk);
      (chunk == 1 ? decode_tokens : prefill_tokens) += chunk;
    } catch (const std::exception& e) {
      fail_rows({s}, e);
    }
    model_seconds += seconds_since(t0);
    ++forwards;
    link_children(*s, false);
  }

  // Sample one token for every sequence whose logits are fresh (parents and freshly linked forks alike).
  int64_t sampled = 0, forced = 0;
  for (auto& [id, s] : running_) {
    if (!s->ready_to_sample()) continue;
    const size_t before = s->result.tokens.size();
    sample(*s, events);
    if (s->result.tokens.size() > before) (s->result.forced.back() ? forced : sampled) += 1;
  }
  retire_finished(events);
  admit();  // freed blocks may let the queue in; they start next step

  deliver(events);
  const double step_seconds = seconds_since(step_start);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& r : events.results) {
    live_.erase(r.id);
    ++stats_.finished;
    if (options_.keep_results) results_[r.id] = std::move(r);
  }
  stats_.steps += 1;
  stats_.forwards += forwards;
  stats_.decode_tokens += decode_tokens;
  stats_.prefill_tokens += prefill_tokens;
  stats_.sampled_tokens += sampled;
  stats_.forced_tokens += forced;
  stats_.model_seconds += model_seconds;
  stats_.step_seconds += step_seconds;
  stats_.reserve_failures += failures;
  stats_.kv_bytes_in_use = pool_->bytes_in_use();
  stats_.kv_peak_bytes = std::max(stats_.kv_peak_bytes, stats_.kv_bytes_in_use);
  stats_.running = static_cast<int64_t>(running_.size());
  stats_.queued = static_cast<int64_t>(queue_.size());
  active_ = !running_.empty() || !queue_.empty();
  done_cv_.notify_all();
  return active_ || !commands_.empty();
}

void Engine::deliver(Events& events) {
  for (auto& [callback, event] : events.items) (*callback)(event);
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

SequenceResult Engine::wait(SeqId id) {
  if (!options_.keep_results) throw MuseError("wait: this engine keeps no results (keep_results = false)");
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [&] { return results_.count(id) > 0 || live_.count(id) == 0; });
  auto it = results_.find(id);
  if (it == results_.end()) throw MuseError("wait: no sequence " + std::to_string(id) + " (or its result was taken)");
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

bool Engine::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return !active_ && commands_.empty();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  EngineStats s = stats_;
  s.kv_bytes_in_use = pool_->bytes_in_use();
  return s;
}

}  // namespace muse

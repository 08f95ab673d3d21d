// The serving engine: many sequences decoded together over one paged KV pool (continuous batching).
//
//   Engine engine(model, torch::kCPU, options);
//   SeqId a = engine.add(Prompt::of(tokens), params);   // any thread; queued until the loop admits it
//   auto kids = engine.fork(a, 8);                        // 8 continuations sharing a's prompt KV (prefilled once)
//   engine.start();                                       // or: while (engine.step()) {} on one thread
//   SequenceResult r = engine.wait(kids[0]);
//
// Each step() applies the submissions/cancellations/forced tokens that arrived since the last one, admits queued
// sequences the KV budget can carry to completion, then runs ONE forward over every sequence that has a single
// token to feed (the decode batch) plus chunked prefills under a per-step token budget, samples one token for
// every sequence whose logits are fresh, streams it, and retires finished sequences (their blocks return to the
// pool). The model math is TransformerImpl::forward over the pool (KVCache::paged); the optional fused CPU
// decode path (src/engine/cpu_decode.h) replaces the decode forward only.
//
// Memory: admission reserves, per sequence, the blocks it may still need to reach prompt + max_tokens (capped by
// the model's context); a request that could never fit the pool is refused with a MuseError ("over capacity"),
// one that does not fit now waits in a FIFO queue. The pool therefore never runs out mid-generation.
#pragma once
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/kv_pool.h"
#include "engine/sampler.h"
#include "model/transformer.h"
#include "tokenizer/chat_format.h"
#include "util/rng.h"

namespace muse {

using SeqId = uint64_t;

struct Prompt {
  std::vector<int> tokens;
  std::vector<std::array<int32_t, 3>> positions;  // (t, row, col) per token; empty = text positions 0..n-1
  torch::Tensor patches;  // optional [N, patch_dim] float: pixels of the <|patch|> tokens, as ModelInput::patches
  // Generated tokens continue at t = this (default: last position's t + 1).
  int32_t next_t = -1;
  static Prompt of(const TokenSequence& sequence);
  static Prompt of(const std::vector<int>& tokens);  // text positions
};

// One streamed token (or, with token = -1, just the notice that the sequence finished).
struct TokenEvent {
  SeqId id = 0;
  int token = -1;
  bool forced = false;  // appended without sampling (force(), the thinking budget, the continue cue)
  float logprob = 0.0f;  // log p(token) under the model's raw logits; NaN when not computed (see RequestParams)
  std::vector<std::pair<int, float>> top_logprobs;  // the most likely tokens under the raw logits, best first
  bool finished = false;  // this is the sequence's last event
  std::string finish_reason;
};
using StreamCallback = std::function<void(const TokenEvent&)>;

struct RequestParams {
  // temperature, top_k, top_p, min_p, seed, max_tokens, stop tokens and the thinking budget.
  SamplingParams sampling;
  std::vector<std::string> stop_strings;  // needs EngineOptions::token_text
  std::vector<int> allowed_tokens;        // non-empty: only these may be sampled
  std::vector<int> banned_tokens;         // never sampled
  // Budget forcing: below min_thinking_tokens, an attempt to end thinking (or to stop) is replaced by this
  // token, marked forced (-1: the attempt is suppressed instead, as Generator does).
  int continue_token = -1;
  bool logprobs = false;  // per-token log p under the raw logits (forced tokens inside a force() chunk: NaN)
  int top_logprobs = 0;   // and this many alternatives
  bool keep_logits = false;  // tests: SequenceResult::logits gets the raw logits each token was chosen from
  StreamCallback on_token;   // called on the engine thread; may call add/fork/cancel/force, never step()
  void validate(int64_t vocab_size) const;  // MuseError naming the field
};

struct SequenceResult {
  SeqId id = 0;
  SeqId parent = 0;                // fork(): the sequence it was forked from (0: none)
  // Generated (sampled and forced), including a stop token; a fork's start with what its parent had generated
  // before the fork. Forced tokens never trigger stop tokens or strings (a tool result may contain them).
  std::vector<int> tokens;
  std::vector<bool> forced;
  std::vector<float> logprobs;     // when requested
  std::vector<std::vector<std::pair<int, float>>> top_logprobs;
  std::vector<std::vector<float>> logits;  // keep_logits
  int thinking_tokens = 0;
  std::string finish_reason;  // "stop" | "length" | "context" | "cancelled" | "error"
  std::string stop_string;    // the stop string that ended it, if any
  std::string error;          // finish_reason "error": what went wrong
  int64_t prompt_tokens = 0;
  int64_t prefilled_tokens = 0;  // prompt tokens this sequence ran through the model itself (forks share)
};

struct EngineOptions {
  int64_t kv_mem = int64_t{256} << 20;  // bytes of KV pool (keys + values, all layers)
  int64_t block_size = 16;               // tokens per KV block
  int64_t max_step_tokens = 512;         // per step: decode tokens + prefill chunk tokens (chunked prefill)
  int max_running = 256;                 // sequences admitted at once
  bool keep_results = true;              // keep finished results for wait()/take() (false: stream only)
  bool fused_cpu_decode = false;         // decode steps via CpuDecoder (CPU, float32 only)
  // Token id -> text, for stop strings (e.g. [&](int id) { return tokenizer.decode({id}); }).
  std::function<std::string(int)> token_text;
};

struct EngineStats {
  int64_t steps = 0, forwards = 0;
  int64_t prefill_tokens = 0;  // tokens run through the model in chunks of more than one
  int64_t decode_tokens = 0;   // tokens run through the model in decode batches
  int64_t sampled_tokens = 0, forced_tokens = 0;
  double model_seconds = 0;  // inside forward passes (including the logits' copy to the CPU)
  double step_seconds = 0;   // whole steps: model + engine overhead (sampling, bookkeeping, callbacks)
  int64_t kv_bytes_in_use = 0, kv_bytes_capacity = 0, kv_peak_bytes = 0;
  int64_t running = 0, queued = 0, finished = 0;
  int64_t reserve_failures = 0;  // should stay 0: admission guarantees every reservation
};

class CpuDecoder;
struct KVPoolView;

class Engine {
 public:
  Engine(Transformer model, torch::Device device, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Validates at once (MuseError: bad params, prompt too long for the context, or over capacity:
  // the pool could never hold prompt + max_tokens); the sequence joins at the next step.
  SeqId add(const Prompt& prompt, RequestParams params);
  // Thread-safe. n children continuing from `parent`'s tokens (prompt and what it generated so far) and sharing
  // its KV blocks: a parent still prefilling is prefilled once, then shared. Children get `params[i]` or, when
  // `params` is empty, the parent's params with seed seed_mix(parent seed, i + 1). A parent that no longer
  // runs gives children that finish with "error".
  std::vector<SeqId> fork(SeqId parent, int n, std::vector<RequestParams> params = {});
  // Thread-safe; any time. The sequence finishes with "cancelled" at the next step; unknown ids are ignored.
  void cancel(SeqId id);
  // Thread-safe. Appends tokens without sampling (marked forced), e.g. a tool result; they count toward
  // max_tokens and are fed to the model with the next step.
  void force(SeqId id, std::vector<int> tokens);

  // One iteration. Call from one thread at a time (or use start()). Returns true while work remains.
  bool step();
  // Steps until nothing is queued or running.
  void run_until_idle();
  // A background thread that steps whenever there is work. stop() (and the destructor) end it.
  void start();
  void stop();

  // Blocks until `id` finishes (needs start() or another thread stepping) and hands over its result.
  SequenceResult wait(SeqId id);
  // The result if `id` has finished (removed from the engine), else nothing.
  std::optional<SequenceResult> take(SeqId id);
  bool idle() const;  // nothing pending, queued or running

  EngineStats stats() const;
  const KVPool& pool() const { return *pool_; }
  const ModelConfig& config() const { return config_; }
  // Blocks a request of this length would need at most (the admission bound).
  int64_t blocks_for_request(int64_t prompt_tokens, int max_tokens) const;

 private:
  struct Sequence;
  struct Command {
    enum Kind { Add, Fork, Cancel, Force } kind = Add;
    SeqId id = 0;                   // Add: new id; Fork: parent; Cancel/Force: target
    std::vector<SeqId> child_ids;   // Fork
    std::vector<RequestParams> child_params;
    Prompt prompt;                  // Add
    RequestParams params;           // Add
    std::vector<int> tokens;        // Force
  };

  struct Events;
  void apply_commands(Events& events);
  void enqueue(std::unique_ptr<Sequence> seq, Events& events);
  void admit();
  bool try_admit(std::unique_ptr<Sequence>& seq);
  Sequence* find_running(SeqId id);
  int64_t final_length(const Sequence& seq) const;
  int64_t future_need(const Sequence& seq) const;
  void link_children(Sequence& parent, bool parent_leaving);
  void requeue_front(Sequence& first);  // a running sequence and those waiting on it, back to the queue's front
  void run_decode(std::vector<Sequence*>& rows);
  void run_prefill(Sequence& seq, int64_t chunk);
  void sample(Sequence& seq, Events& events);
  void append_token(Sequence& seq, int token, bool forced, const float* logits, bool check_stops, Events& events);
  void finish(Sequence& seq, const std::string& reason, Events& events, bool notify = true);
  void retire_finished(Events& events);
  void deliver(Events& events);
  torch::Tensor positions_of(const Sequence& seq, int64_t begin, int64_t count) const;

  Transformer model_;
  torch::Device device_;
  EngineOptions options_;
  ModelConfig config_;
  std::unique_ptr<KVPool> pool_;
  std::unique_ptr<CpuDecoder> decoder_;
  std::unique_ptr<KVPoolView> pool_view_;

  // Owned by the stepping thread (guarded by step_mutex_).
  std::mutex step_mutex_;
  std::map<SeqId, std::unique_ptr<Sequence>> running_;  // admitted (incl. children waiting for a parent)
  std::deque<std::unique_ptr<Sequence>> queue_;         // not admitted yet

  // Shared with submitting threads (guarded by mutex_).
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Command> commands_;
  std::map<SeqId, SequenceResult> results_;
  std::set<SeqId> live_;  // submitted and not yet finished
  bool active_ = false;   // sequences queued or running after the last step
  EngineStats stats_;
  SeqId next_id_ = 1;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace muse

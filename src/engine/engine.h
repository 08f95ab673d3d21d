// The serving engine: many sequences decoded together over one paged KV pool (continuous batching). It is the
// only runtime decoder: the CLI, evaluation, training-time evals, tools, agents and the server all run on it.
//
//   Engine engine(model, torch::kCPU, options);
//   SeqId a = engine.add(Prompt::of(tokens), params);   // any thread; queued until the loop admits it
//   auto kids = engine.fork(a, 8);                        // 8 continuations sharing a's prompt KV (prefilled once)
//   engine.start();                                       // or: while (engine.step()) {} on one thread
//   SequenceResult r = engine.wait(kids[0]);
//
// step() reads as apply → plan → run → sample → retire: it applies the submissions, cancellations and forced
// tokens that arrived since the last step, admits what the KV budget can carry to completion, plans one forward
// over every sequence with one token to feed (the decode batch) plus prefill chunks under a per-step token budget
// (engine/scheduler.h), runs them (engine/batch.h), samples one token for every sequence with fresh logits by its
// decode rules (engine/decode_rules.h), then retires finished sequences (their blocks return to the pool) and
// delivers events. Sequences and their states: engine/sequence.h. Requests and results: engine/request.h.
//
// A request over what the pool could ever hold fails at once (MuseError, ErrorKind::OverCapacity); one that does
// not fit now waits in a FIFO queue. The pool therefore never runs out mid-generation.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/batch.h"
#include "engine/kv_pool.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "model/transformer.h"

namespace muse {

struct EngineOptions {
  int64_t kv_mem = int64_t{256} << 20;  // bytes of KV pool (keys + values, all layers)
  int64_t block_size = 16;               // tokens per KV block
  int64_t max_step_tokens = 512;         // per step: decode tokens + prefill chunk tokens (chunked prefill)
  int max_running = 256;                 // sequences admitted at once
  bool keep_results = true;              // keep finished results for wait()/take() (false: stream only)
  bool fused_cpu_decode = false;         // decode steps via CpuDecoder (CPU, float32 only)
  // The fused decoder's threads (its own pool; 0 = all cores). Prefill and the libtorch path use torch's and
  // OpenBLAS's threads as configure_threads set them (see engine/cpu_decode.h for how the pools share cores).
  int threads = 0;
  // true: the fused decoder runs each product by a fixed rule instead of the fastest way it measures, so the same
  // requests give bit-identical tokens in every run (RL rollouts, which exact resume regenerates). Slower where
  // the measured choice would have won.
  bool reproducible = false;
  // Keep the KV of finished prompts' full blocks and reuse it for later prompts that begin the same way (chat
  // histories, system prompts): they are not prefilled again. Only for weights that do not change while the
  // engine lives (the server); off by default, so training and RL never read stale keys.
  bool prefix_cache = false;
  // Token id -> text, for stop strings (e.g. [&](int id) { return tokenizer.decode({id}); }).
  std::function<std::string(int)> token_text;
  // The fastest decoder for the device: the fused path on a CPU, the libtorch paged path elsewhere.
  static EngineOptions for_device(const torch::Device& device);
};

struct EngineStats {
  int64_t steps = 0, forwards = 0;
  int64_t prefill_tokens = 0;  // tokens run through the model in chunks of more than one
  int64_t decode_tokens = 0;   // tokens run through the model in decode batches
  int64_t sampled_tokens = 0, forced_tokens = 0;
  double model_seconds = 0;  // inside forward passes (including the logits' copy to the CPU)
  double step_seconds = 0;   // whole steps: model + engine overhead (sampling, bookkeeping, callbacks)
  int64_t kv_bytes_in_use = 0, kv_bytes_capacity = 0, kv_peak_bytes = 0;
  int64_t running = 0, queued = 0, parked = 0, finished = 0;
  int64_t reserve_failures = 0;  // should stay 0: admission guarantees every reservation
  int64_t prefix_cached_tokens = 0;  // prompt tokens taken from the prefix cache instead of prefilled
  int64_t prefix_cache_blocks = 0, prefix_cache_evictions = 0;
};

class Engine {
 public:
  Engine(Transformer model, torch::Device device, EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. Validates at once (MuseError: bad params or prompt, InvalidRequest; over capacity: the pool
  // could never hold prompt + max_tokens, OverCapacity); the sequence joins at the next step.
  SeqId add(const Prompt& prompt, RequestParams params);
  // Thread-safe. `samples` sequences of one prompt, prefilled once: the first is add()'s, the others fork it in
  // the same step (children get seed_mix(seed, i + 1)), so with a running loop no child starts from a token the
  // first already sampled, as add() then fork() could.
  std::vector<SeqId> add_samples(const Prompt& prompt, RequestParams params, int samples);
  // Thread-safe. n children continuing from `parent`'s tokens (prompt and what it generated so far) and sharing
  // its KV blocks: a parent still prefilling is prefilled once, then shared. Children get `params[i]` or, when
  // `params` is empty, the parent's params with seed seed_mix(parent seed, i + 1). A parent that no longer
  // runs gives children that finish with FinishReason::Error.
  std::vector<SeqId> fork(SeqId parent, int n, std::vector<RequestParams> params = {});
  // Thread-safe; any time. The sequence finishes with Cancelled at the next step; unknown ids are ignored.
  void cancel(SeqId id);
  // Thread-safe. Appends tokens without sampling (marked forced), e.g. a tool result; they count toward
  // max_tokens and are fed to the model with the next step. A parked sequence resumes.
  void force(SeqId id, std::vector<int> tokens);
  // The same with a segment that may hold an image (a zoom's crop): `segment.positions` are relative to the
  // sequence's next position (t offsets; empty = text), `segment.next_t` how far t advances (-1: last t + 1),
  // `segment.patches` the pixels of its <|patch|> tokens. MuseError when patches and patch tokens disagree.
  void force(SeqId id, Prompt segment);
  // Thread-safe. A parked sequence goes on sampling (its pause token is fed to the model first).
  void resume(SeqId id) { force(id, std::vector<int>{}); }
  // Thread-safe. "Answer now": a sequence still thinking gets <|/think|> forced at its next token and answers
  // (DecodeRules::end_thinking); others, and unknown ids, are unaffected.
  void end_thinking(SeqId id);

  // One iteration. Call from one thread at a time (or use start()). Returns true while work remains; parked
  // sequences are not work (they wait for force()/resume()/cancel(), which wake the loop).
  bool step();
  // Steps until nothing is queued or running except parked sequences.
  void run_until_idle();
  // A background thread that steps whenever there is work. stop() (and the destructor) end it.
  void start();
  void stop();

  // Batch work (evaluation, rollouts): adds every prompt with the same params (no pause tokens) and returns the
  // results in order. Steps on this thread, or waits when start() runs the loop.
  std::vector<SequenceResult> run_batch(const std::vector<Prompt>& prompts, const RequestParams& params);
  // The same with params per prompt (e.g. a seed each); MuseError unless there is one per prompt.
  std::vector<SequenceResult> run_batch(const std::vector<Prompt>& prompts, const std::vector<RequestParams>& params);

  // One request to its end, streaming: `on_event` gets every event of the sequence, on this thread, between
  // steps (never inside one), so it may be slow (print, write to a socket). Steps on this thread, or waits when
  // start() runs the loop. An exception from on_event cancels the sequence and propagates.
  SequenceResult generate(const Prompt& prompt, RequestParams params,
                          const std::function<void(const TokenEvent&)>& on_event);

  // Blocks until `id` finishes (needs start() or another thread stepping) and hands over its result.
  SequenceResult wait(SeqId id);
  // The result if `id` has finished (removed from the engine), else nothing.
  std::optional<SequenceResult> take(SeqId id);
  bool idle() const;  // nothing pending, queued or running (parked sequences are not idle)
  bool looping() const;  // start() runs the loop on its own thread (else callers step)

  EngineStats stats() const;
  const KVPool& pool() const { return *pool_; }
  const ModelConfig& config() const { return config_; }
  // Blocks a request of this length would need at most (the admission bound).
  int64_t blocks_for_request(int64_t prompt_tokens, int max_tokens) const;

 private:
  struct Command {
    enum Kind { Add, Fork, Cancel, Force, EndThinking } kind = Add;
    SeqId id = 0;                   // Add: new id; Fork: parent; Cancel/Force: target
    std::vector<SeqId> child_ids;   // Fork
    std::vector<RequestParams> child_params;
    Prompt prompt;                  // Add
    RequestParams params;           // Add
    Prompt forced;                  // Force: tokens, relative positions, patches
  };
  struct Events;
  struct StepCounts;

  DecodeRules rules_for(const RequestParams& params) const;
  void submit(Command command);
  int64_t apply_commands(Events& events);  // how many were applied
  void apply_fork(Command& c, Events& events);
  void apply_force(Sequence& seq, const Prompt& segment, Events& events);
  void enqueue(std::unique_ptr<Sequence> seq, Events& events);
  void run(const StepPlan& plan, Events& events, StepCounts& counts);
  void sample_ready(Events& events, StepCounts& counts);
  // `position`: null = the next text position (t, t, t).
  void append_token(Sequence& seq, int token, bool forced, const float* logits, bool from_model, Events& events,
                    const std::array<int32_t, 3>* position = nullptr);
  void finish(Sequence& seq, FinishReason reason, Events& events, bool notify = true);
  void retire(Events& events);
  void deliver(Events& events);
  void publish(Events& events, const StepCounts& counts);
  bool has_work() const;  // something to step for (parked sequences are not)

  Transformer model_;
  torch::Device device_;
  EngineOptions options_;
  ModelConfig config_;
  std::unique_ptr<KVPool> pool_;

  // Owned by the stepping thread (guarded by step_mutex_).
  std::mutex step_mutex_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<BatchRunner> runner_;
  std::vector<Sequence*> ready_;             // sample_ready's scratch, reused
  std::vector<DecodeRules::Choice> choices_;

  // Shared with submitting threads (guarded by mutex_).
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Command> commands_;
  std::map<SeqId, SequenceResult> results_;
  std::set<SeqId> live_;  // submitted and not yet finished
  bool active_ = false;   // sequences queued or running (not parked) after the last step
  bool holding_ = false;  // sequences parked after the last step
  EngineStats stats_;
  SeqId next_id_ = 1;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace muse

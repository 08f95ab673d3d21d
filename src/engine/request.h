// What a caller hands the engine (a prompt and its per-request parameters) and what it gets back (streamed
// events and a finished sequence's result). Plain structs; the rules that act on them live in decode_rules.h.
#pragma once
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "constrain/token_constraint.h"
#include "engine/sampler.h"
#include "tokenizer/chat_format.h"

namespace muse {

using SeqId = uint64_t;

// Why a sequence ended. Text only at output (finish_reason_name), e.g. the CLI and the server.
enum class FinishReason {
  None,       // still running
  Stop,       // emitted a stop token or stop string
  Length,     // generated max_tokens (sampled and forced)
  Context,    // reached the model's context length
  Cancelled,  // cancel() (a client went away, a limit, the caller)
  Error,      // see SequenceResult::error (e.g. a fork of a sequence that no longer runs)
};
// "stop", "length", "context", "cancelled", "error" ("" for None).
const char* finish_reason_name(FinishReason reason);

struct Prompt {
  std::vector<int> tokens;
  std::vector<std::array<int32_t, 3>> positions;  // (t, row, col) per token; empty = text positions 0..n-1
  torch::Tensor patches;  // optional [N, patch_dim] float: pixels of the <|patch|> tokens, as ModelInput::patches
  // Generated tokens continue at t = this (default: last position's t + 1).
  int32_t next_t = -1;
  static Prompt of(const TokenSequence& sequence);
  static Prompt of(const std::vector<int>& tokens);  // text positions
};

// One streamed event: a token (sampled or forced), a pause (the token is a pause token: the sequence is parked
// until force()/resume()), or, with token = -1, just the notice that the sequence finished.
struct TokenEvent {
  SeqId id = 0;
  int token = -1;
  bool forced = false;  // appended without sampling (force(), the thinking budget, the continue cue)
  float logprob = 0.0f;  // log p(token) under the model's raw logits; NaN when not computed (see RequestParams)
  std::vector<std::pair<int, float>> top_logprobs;  // the most likely tokens under the raw logits, best first
  bool parked = false;    // this token is one of the request's pause_tokens: the sequence now waits
  bool finished = false;  // this is the sequence's last event
  FinishReason finish_reason = FinishReason::None;
};
using StreamCallback = std::function<void(const TokenEvent&)>;

// A thread-safe queue of events: the engine thread pushes (never blocks), callers pop on their own threads.
// This is how slow work (tools, sub-agents, HTTP writes) reacts to a sequence without stalling the batch.
class EventQueue {
 public:
  void push(TokenEvent event);
  // Blocks until an event arrives (or the timeout passes: nothing).
  std::optional<TokenEvent> pop(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  std::optional<TokenEvent> try_pop();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
};

struct RequestParams {
  // temperature, top_k, top_p, min_p, seed, max_tokens, stop tokens and the thinking budget.
  SamplingParams sampling;
  std::vector<std::string> stop_strings;  // needs EngineOptions::token_text
  std::vector<int> allowed_tokens;        // non-empty: only these may be sampled
  std::vector<int> banned_tokens;         // never sampled
  // A grammar the sequence follows (constrain/token_constraint.h): each sequence decodes with its own clone, a fork
  // with a copy of its parent's state. Its restriction is applied before the masks above.
  std::shared_ptr<const TokenConstraint> constraint;
  // A sampled pause token (e.g. the end of a tool call or of a spawn) parks the sequence: it keeps its KV blocks
  // (and its admission reservation), stops sampling and reports `parked`; force() resumes it with tokens (a tool
  // result), resume() without; cancel() ends it. Pause tokens never end a sequence by themselves.
  std::vector<int> pause_tokens;
  // A prefix holder: once its prompt is prefilled it parks without sampling anything, keeping the prompt's KV
  // (and its fresh logits) for later fork()s — Contemplating's later waves of agents start from it without a
  // second prefill. cancel() releases it. Its own max_tokens only sizes its reservation: 1 is enough.
  bool hold = false;
  // Budget forcing: below min_thinking_tokens, an attempt to end thinking (or to stop) is replaced by this
  // token, marked forced (-1: the attempt is suppressed instead).
  int continue_token = -1;
  bool logprobs = false;  // per-token log p under the raw logits (forced tokens inside a force() chunk: NaN)
  int top_logprobs = 0;   // and this many alternatives
  bool keep_logits = false;  // tests: SequenceResult::logits gets the raw logits each token was chosen from
  // SequenceResult::positions and ::patches get the whole sequence's model input (prompt, then generated and
  // forced tokens, a zoom's crop included): what training re-scores a rollout on (RL).
  bool keep_inputs = false;
  // Observers. Called/pushed on the engine thread after each step: the callback must be cheap (it may call
  // add/fork/cancel/force, never step()); anything slow reads `events` on its own thread instead.
  StreamCallback on_token;
  std::shared_ptr<EventQueue> events;
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
  // keep_inputs: the rotary position of every token of the sequence (the prompt's first, then `tokens`), and
  // the pixels of all its <|patch|> tokens in order (undefined when it has none).
  std::vector<std::array<int32_t, 3>> positions;
  torch::Tensor patches;
  int thinking_tokens = 0;
  FinishReason finish_reason = FinishReason::None;
  std::string stop_string;    // the stop string that ended it, if any
  std::string error;          // FinishReason::Error: what went wrong
  int64_t prompt_tokens = 0;
  int64_t prefilled_tokens = 0;  // prompt tokens this sequence ran through the model itself (forks share)
  // Prompt tokens whose KV came from the prefix cache (EngineOptions::prefix_cache); a fork: its parent's.
  int64_t cached_tokens = 0;
  int parks = 0;                 // times it was parked on a pause token
};

}  // namespace muse

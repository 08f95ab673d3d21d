// One sequence in the engine: its tokens and positions, its KV blocks, its decode rules and its explicit state.
// Owned by the engine's stepping thread.
//
//   Queued ──admit──> WaitingForParent ──parent stored the fork point──> Prefilling <──> Decoding ──> Finished
//                 └─────────────────────────────────────────────────────────┘    │  ^
//                                                     pause token emitted ──> Parked └─ force()/resume()
//   Any state ──cancel()/error──> Finished.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/decode_rules.h"
#include "engine/kv_pool.h"
#include "engine/request.h"
#include "util/rng.h"

namespace muse {

enum class SeqState {
  Queued,            // not admitted: holds no KV blocks
  WaitingForParent,  // admitted fork whose parent has not yet stored the shared prefix
  Prefilling,        // more than one token to feed (prompt, forced chunk)
  Decoding,          // one token to feed, or fresh logits to sample from
  Parked,            // emitted a pause token: keeps its blocks, samples nothing until force()/resume()
  Finished,          // done; results are handed out when it retires
};
const char* seq_state_name(SeqState state);

struct Sequence {
  SeqId id = 0;
  SeqState state = SeqState::Queued;
  RequestParams params;  // on_token moved into `callback`
  std::shared_ptr<const StreamCallback> callback;
  std::shared_ptr<EventQueue> events;
  DecodeRules rules;
  Rng rng;
  std::vector<int> tokens;                        // prompt, then everything generated
  std::vector<std::array<int32_t, 3>> positions;  // per token
  int32_t next_t = 0;
  int64_t base_length = 0;    // tokens that are not generated (prompt; for a fork, the parent's prompt)
  torch::Tensor patches;      // [N, patch_dim]: pixels of every <|patch|> token so far (prompt, then forced)
  SequenceKV kv;
  // The raw logits after token kv.length - 1 when logits_at == kv.length: `fresh_logits` points at them, in
  // `logits` (prefill, forks, own_logits()) or at a row of the fused decoder's output, which stays valid until
  // its next step (the engine calls own_logits() on what is still unsampled before that: engine.cpp, run()).
  std::vector<float> logits;
  const float* fresh_logits = nullptr;
  int64_t logits_at = -1;
  SeqId wait_for = 0;         // WaitingForParent: the parent whose KV this fork shares once it stores fork_length
  int64_t fork_length = 0;
  SequenceResult result;

  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - kv.length; }
  bool done() const { return state == SeqState::Finished; }
  bool waiting() const { return state == SeqState::Queued || state == SeqState::WaitingForParent; }
  // Runs in this step's forward or sampling (not queued, waiting, parked or finished).
  bool active() const { return state == SeqState::Prefilling || state == SeqState::Decoding; }
  bool ready_to_sample() const { return active() && pending() == 0 && logits_at == kv.length && kv.length > 0; }
  void set_logits(const float* begin, const float* end) {
    logits.assign(begin, end);
    fresh_logits = logits.data();
  }
  // Copies logits held elsewhere into `logits` if they are fresh and unsampled (nothing fed or appended since:
  // what sampling and a fork's copy read); drops the pointer otherwise.
  void own_logits(int64_t vocab) {
    if (!fresh_logits || fresh_logits == logits.data()) return;
    if (logits_at == kv.length && pending() == 0) set_logits(fresh_logits, fresh_logits + vocab);
    else fresh_logits = nullptr;
  }
  // Prefilling or Decoding by what is left to feed (for an active sequence).
  void refresh_state() {
    if (active()) state = pending() > 1 ? SeqState::Prefilling : SeqState::Decoding;
  }

  // A new sequence from a prompt (validated by the engine).
  static std::unique_ptr<Sequence> start(SeqId id, const Prompt& prompt, RequestParams params,
                                         const DecodeRules& rules, const torch::Device& device);
  // The one way to fork: a child continuing from everything this sequence holds (tokens, rules' state, what it
  // generated so far), sharing its KV once linked. `params`: the child's own, or (null) the parent's with
  // seed seed_mix(parent seed, index + 1) and the parent's observers. `rules` must be built from the child's
  // params when they are its own.
  std::unique_ptr<Sequence> fork_child(SeqId child_id, int index, const RequestParams* params,
                                       const DecodeRules* own_rules) const;
};

}  // namespace muse

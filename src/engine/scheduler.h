// The engine's scheduler: the FIFO queue, admission under the KV budget, fork linking, and the plan of one step
// (which sequences decode, which prefill how many tokens). It owns every sequence until it retires.
//
// Admission reserves, per sequence, the blocks it may still need to reach prompt + max_tokens (capped by the
// model's context), so the pool never runs out mid-generation; parked sequences keep their reservation. With
// the pool's prefix cache on, a new sequence first takes the cached blocks its prompt begins with, and a
// retiring one leaves its prompt's full blocks behind.
// Not thread-safe: the engine's stepping thread calls it.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "engine/kv_pool.h"
#include "engine/sequence.h"
#include "model/config.h"

namespace muse {

struct SchedulerLimits {
  int64_t max_step_tokens = 512;  // per step: decode tokens + prefill chunk tokens (chunked prefill)
  int max_running = 256;          // sequences admitted at once
};

// One step's work. Every row has its KV slots reserved.
struct StepPlan {
  std::vector<Sequence*> decode;                          // one token each, one batched forward
  std::vector<std::pair<Sequence*, int64_t>> prefill;     // (sequence, tokens in this chunk)
  int64_t reserve_failures = 0;                           // should stay 0: admission guarantees the blocks
  bool empty() const { return decode.empty() && prefill.empty(); }
};

class Scheduler {
 public:
  Scheduler(KVPool& pool, const ModelConfig& config, SchedulerLimits limits);

  // Waits for admission at the back of the queue.
  void enqueue(std::unique_ptr<Sequence> seq);
  // Admits from the queue's front while the reservations fit.
  void admit();
  StepPlan plan();
  // After `seq` stored more KV: its forks waiting for that prefix now share its blocks.
  void link_children(Sequence& parent) { link_children(parent, false); }
  // Removes finished sequences (their blocks return to the pool) and hands them over.
  std::vector<std::unique_ptr<Sequence>> retire_finished();

  Sequence* find(SeqId id);  // running or queued; null if unknown or retired
  template <typename F>
  void for_each_running(F&& f) {
    for (auto& [id, s] : running_) f(*s);
  }
  int64_t running() const { return static_cast<int64_t>(running_.size()); }
  int64_t queued() const { return static_cast<int64_t>(queue_.size()); }
  bool idle() const { return running_.empty() && queue_.empty(); }
  // Blocks a request of this length would need at most (the admission bound).
  int64_t blocks_for_request(int64_t prompt_tokens, int max_tokens) const;

 private:
  // The prefix cache's key of each of the sequence's first `blocks` blocks: a hash chained from the start over
  // tokens, positions and the pixels of <|patch|> tokens, so a key stands for everything up to its block's end.
  std::vector<uint64_t> prefix_keys(const Sequence& seq, int64_t blocks) const;
  int64_t final_length(const Sequence& seq) const;
  int64_t future_need(const Sequence& seq) const;
  bool feeds_patch(const Sequence& seq) const;  // its next token to feed is a <|patch|> (pixels: prefill only)
  bool try_admit(std::unique_ptr<Sequence>& seq);
  void link_children(Sequence& parent, bool parent_leaving);
  void requeue_front(Sequence& first);  // a running sequence and those waiting on it, back to the queue's front
  Sequence* find_running(SeqId id);

  KVPool& pool_;
  ModelConfig config_;
  SchedulerLimits limits_;
  std::map<SeqId, std::unique_ptr<Sequence>> running_;  // admitted (incl. forks waiting for a parent, parked)
  std::deque<std::unique_ptr<Sequence>> queue_;         // not admitted yet
};

}  // namespace muse

#include "engine/scheduler.h"

#include <algorithm>

#include "util/rng.h"

namespace muse {

Scheduler::Scheduler(KVPool& pool, const ModelConfig& config, SchedulerLimits limits)
    : pool_(pool), config_(config), limits_(limits) {}

int64_t Scheduler::blocks_for_request(int64_t prompt_tokens, int max_tokens) const {
  return pool_.blocks_for(std::min<int64_t>(prompt_tokens + max_tokens, config_.max_seq_len));
}

int64_t Scheduler::final_length(const Sequence& seq) const {
  return std::min<int64_t>(seq.base_length + seq.rules.max_tokens(), config_.max_seq_len);
}

int64_t Scheduler::future_need(const Sequence& seq) const {
  const int64_t final = final_length(seq);
  if (seq.wait_for != 0) {
    // Will share the parent's full blocks of the first fork_length tokens; +1 covers the copy-on-write the
    // parent may then need for its shared partial block.
    return std::max<int64_t>(0, pool_.blocks_for(final) - seq.fork_length / pool_.block_size()) + 1;
  }
  return pool_.future_blocks(seq.kv, final);
}

Sequence* Scheduler::find_running(SeqId id) {
  auto it = running_.find(id);
  return it == running_.end() ? nullptr : it->second.get();
}

Sequence* Scheduler::find(SeqId id) {
  if (Sequence* s = find_running(id)) return s;
  for (auto& s : queue_)
    if (s->id == id) return s.get();
  return nullptr;
}

void Scheduler::enqueue(std::unique_ptr<Sequence> seq) {
  seq->state = SeqState::Queued;
  queue_.push_back(std::move(seq));
}

std::vector<uint64_t> Scheduler::prefix_keys(const Sequence& seq, int64_t blocks) const {
  const int64_t B = pool_.block_size();
  blocks = std::min<int64_t>(blocks, static_cast<int64_t>(seq.tokens.size()) / B);
  std::vector<uint64_t> keys;
  if (blocks <= 0) return keys;
  torch::Tensor pixels;
  int64_t patch = 0, patch_dim = 0;
  if (seq.patches.defined() && seq.patches.numel() > 0) {
    pixels = seq.patches.to(torch::kCPU, torch::kFloat32).contiguous();
    patch_dim = pixels.size(1);
  }
  uint64_t h = 0x6d75736570726566ull;  // "museprefix"
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t i = b * B; i < (b + 1) * B; ++i) {
      const auto& p = seq.positions[static_cast<size_t>(i)];
      const int token = seq.tokens[static_cast<size_t>(i)];
      h = seed_mix(h, static_cast<uint64_t>(token), static_cast<uint32_t>(p[0]));
      h = seed_mix(h, static_cast<uint32_t>(p[1]), static_cast<uint32_t>(p[2]));
      if (token == config_.patch_token_id && pixels.defined() && patch < pixels.size(0)) {
        const auto* bits = reinterpret_cast<const uint32_t*>(pixels[patch].data_ptr<float>());
        for (int64_t k = 0; k < patch_dim; ++k) h = seed_mix(h, bits[k]);
        ++patch;
      }
    }
    keys.push_back(h);
  }
  return keys;
}

bool Scheduler::try_admit(std::unique_ptr<Sequence>& seq) {
  if (static_cast<int>(running_.size()) >= limits_.max_running) return false;
  // A parent that is gone: the fork continues on its own (its tokens are all there; it prefills them itself).
  if (seq->wait_for != 0 && find_running(seq->wait_for) == nullptr) seq->wait_for = 0;
  // A prompt that begins as a cached one shares those blocks (at least one token is left to feed: its logits).
  const bool reuse = pool_.prefix_cache() && seq->wait_for == 0 && seq->kv.length == 0 && seq->kv.block_table.empty();
  if (reuse) {
    seq->kv = pool_.cached_prefix(prefix_keys(*seq, (static_cast<int64_t>(seq->tokens.size()) - 1) / pool_.block_size()));
    seq->result.cached_tokens = seq->kv.length;
  }
  int64_t reserved = 0;
  for (const auto& [id, r] : running_) reserved += future_need(*r);
  if (reserved + future_need(*seq) > pool_.free_blocks()) {
    if (reuse) {
      pool_.release(seq->kv);  // tried again at the next admission
      seq->result.cached_tokens = 0;
    }
    return false;
  }
  Sequence* s = seq.get();
  running_[s->id] = std::move(seq);
  if (s->wait_for != 0) {
    s->state = SeqState::WaitingForParent;
    Sequence* parent = find_running(s->wait_for);
    if (parent->kv.length >= s->fork_length || parent->state == SeqState::Parked) link_children(*parent, false);
  } else {
    s->state = SeqState::Decoding;
    s->refresh_state();
  }
  return true;
}

void Scheduler::admit() {
  while (!queue_.empty()) {
    if (queue_.front()->done()) break;  // retired by the next retire_finished()
    if (!try_admit(queue_.front())) break;
    queue_.pop_front();
  }
}

void Scheduler::link_children(Sequence& parent, bool parent_leaving) {
  std::vector<Sequence*> children;
  for (auto& [id, s] : running_)
    if (s->wait_for == parent.id && !s->done()) children.push_back(s.get());
  for (Sequence* child : children) {
    // A parked parent stores nothing more until it resumes: the child shares what is stored now and feeds the
    // rest (the pause token) itself.
    const bool parked = parent.state == SeqState::Parked;
    if (parent.kv.length < child->fork_length && !parked) {
      if (!parent_leaving) continue;  // not prefilled that far yet
      // The parent leaves before storing the shared prefix: the child starts over on its own (it holds no
      // blocks while waiting), at the front of the queue, followed by everything waiting on it.
      child->wait_for = 0;
      requeue_front(*child);
      continue;
    }
    int64_t share = std::min(child->fork_length, parent.kv.length);
    const bool copy_logits = parent.logits_at == share && share == static_cast<int64_t>(child->tokens.size());
    if (!copy_logits && share == static_cast<int64_t>(child->tokens.size())) --share;  // re-feed the last token
    child->kv = pool_.fork(parent.kv, share);
    child->result.cached_tokens = std::min(share, parent.result.cached_tokens);  // the prompt it shares
    if (copy_logits) {
      child->set_logits(parent.fresh_logits, parent.fresh_logits + config_.vocab_size);
      child->logits_at = share;
    }
    child->wait_for = 0;
    child->state = SeqState::Decoding;
    child->refresh_state();
    link_children(*child, false);  // grandchildren forked before this child had its KV
  }
}

void Scheduler::requeue_front(Sequence& first) {
  std::vector<SeqId> order = {first.id};
  for (size_t i = 0; i < order.size(); ++i)
    for (auto& [id, s] : running_)
      if (s->wait_for == order[i]) order.push_back(id);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto found = running_.find(*it);
    found->second->state = SeqState::Queued;
    queue_.push_front(std::move(found->second));
    running_.erase(found);
  }
}

bool Scheduler::feeds_patch(const Sequence& seq) const {
  return config_.patch_token_id >= 0 && seq.tokens[static_cast<size_t>(seq.kv.length)] == config_.patch_token_id;
}

StepPlan Scheduler::plan() {
  StepPlan plan;
  std::vector<Sequence*> prefill_rows;
  for (auto& [id, s] : running_) {
    if (!s->active()) continue;
    s->refresh_state();
    const int64_t pending = s->pending();
    // A <|patch|> token carries pixels, which only a prefill chunk feeds (the decode paths embed tokens).
    if (pending == 1 && !feeds_patch(*s)) plan.decode.push_back(s.get());
    else if (pending >= 1) prefill_rows.push_back(s.get());
  }
  // Decode rows first; prefill chunks share what is left of the step's token budget (at least a quarter).
  int64_t budget = std::max<int64_t>(limits_.max_step_tokens - static_cast<int64_t>(plan.decode.size()),
                                     std::max<int64_t>(1, limits_.max_step_tokens / 4));
  std::vector<Sequence*> decoding;
  for (Sequence* s : plan.decode) {
    if (pool_.reserve(s->kv, 1)) decoding.push_back(s);
    else ++plan.reserve_failures;
  }
  plan.decode.swap(decoding);
  for (Sequence* s : prefill_rows) {
    if (budget <= 0) break;
    int64_t chunk = std::min(s->pending(), budget);
    if (!pool_.reserve(s->kv, chunk)) {
      ++plan.reserve_failures;
      continue;
    }
    plan.prefill.emplace_back(s, chunk);
    budget -= chunk;
  }
  return plan;
}

std::vector<std::unique_ptr<Sequence>> Scheduler::retire_finished() {
  std::vector<std::unique_ptr<Sequence>> out;
  std::vector<SeqId> done;
  for (auto& [id, s] : running_)
    if (s->done()) done.push_back(id);
  for (SeqId id : done) {
    auto it = running_.find(id);
    if (it == running_.end()) continue;  // requeued by an earlier parent's leaving
    Sequence& s = *it->second;
    link_children(s, /*parent_leaving=*/true);
    if (pool_.prefix_cache())  // the prompt's full blocks stay for whoever begins the same way
      pool_.cache_prefix(s.kv, prefix_keys(s, std::min(s.base_length, s.kv.length) / pool_.block_size()));
    pool_.release(s.kv);
    out.push_back(std::move(it->second));
    running_.erase(id);
  }
  // Queued ones hold no blocks; sequences still waiting on them go back to the queue as well.
  for (;;) {
    auto it = std::find_if(queue_.begin(), queue_.end(), [](const auto& s) { return s->done(); });
    if (it == queue_.end()) break;
    std::unique_ptr<Sequence> s = std::move(*it);
    queue_.erase(it);
    link_children(*s, /*parent_leaving=*/true);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace muse

#include "engine/sequence.h"

namespace muse {

const char* seq_state_name(SeqState state) {
  switch (state) {
    case SeqState::Queued: return "queued";
    case SeqState::WaitingForParent: return "waiting_for_parent";
    case SeqState::Prefilling: return "prefilling";
    case SeqState::Decoding: return "decoding";
    case SeqState::Parked: return "parked";
    case SeqState::Finished: return "finished";
  }
  return "?";
}

namespace {

void take_observers(Sequence& seq) {
  if (seq.params.on_token) seq.callback = std::make_shared<const StreamCallback>(std::move(seq.params.on_token));
  seq.params.on_token = nullptr;
  seq.events = seq.params.events;
}

}  // namespace

std::unique_ptr<Sequence> Sequence::start(SeqId id, const Prompt& prompt, RequestParams params,
                                          const DecodeRules& rules, const torch::Device& device) {
  auto seq = std::make_unique<Sequence>();
  seq->id = id;
  seq->params = std::move(params);
  take_observers(*seq);
  seq->rules = rules;
  seq->rng = Rng(seq->params.sampling.seed);
  seq->tokens = prompt.tokens;
  const int64_t n = static_cast<int64_t>(seq->tokens.size());
  if (prompt.positions.empty()) {
    for (int64_t t = 0; t < n; ++t)
      seq->positions.push_back({static_cast<int32_t>(t), static_cast<int32_t>(t), static_cast<int32_t>(t)});
  } else {
    seq->positions = prompt.positions;
  }
  seq->next_t = prompt.next_t >= 0 ? prompt.next_t : seq->positions.back()[0] + 1;
  seq->base_length = n;
  if (prompt.patches.defined() && prompt.patches.numel() > 0) seq->patches = prompt.patches.to(device, torch::kFloat32);
  seq->result.id = id;
  seq->result.prompt_tokens = n;
  return seq;
}

std::unique_ptr<Sequence> Sequence::fork_child(SeqId child_id, int index, const RequestParams* params,
                                               const DecodeRules* own_rules) const {
  auto child = std::make_unique<Sequence>(*this);  // tokens, positions, patches, rules' state, result so far
  child->id = child_id;
  child->state = SeqState::Queued;
  child->kv = SequenceKV{};  // linked to the parent's blocks once the parent has stored the fork point
  child->logits.clear();
  child->fresh_logits = nullptr;
  child->logits_at = -1;
  if (params) {
    child->params = *params;
    child->callback.reset();
    take_observers(*child);
    child->rules = *own_rules;
    child->rules.continue_from(rules);
  } else {
    child->params.sampling.seed = seed_mix(this->params.sampling.seed, static_cast<uint64_t>(index) + 1);
    child->params.hold = false;  // a holder's children generate (they asked for no params of their own)
  }
  child->rng = Rng(child->params.sampling.seed);
  child->result.id = child_id;
  child->result.parent = id;
  child->result.prefilled_tokens = 0;
  child->result.finish_reason = FinishReason::None;
  child->wait_for = id;
  child->fork_length = static_cast<int64_t>(tokens.size());
  return child;
}

}  // namespace muse

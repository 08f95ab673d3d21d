#include "engine/decode_rules.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace muse {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool contains(const std::vector<int>& ids, int id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// The allowed/banned mask of a request: 1 = never sample; empty when the request restricts nothing.
std::vector<uint8_t> blocked_tokens(const RequestParams& params, int64_t vocab_size) {
  if (params.allowed_tokens.empty() && params.banned_tokens.empty()) return {};
  std::vector<uint8_t> blocked(static_cast<size_t>(vocab_size), params.allowed_tokens.empty() ? 0 : 1);
  for (int id : params.allowed_tokens) blocked[static_cast<size_t>(id)] = 0;
  for (int id : params.banned_tokens) blocked[static_cast<size_t>(id)] = 1;
  return blocked;
}

}  // namespace

DecodeRules::DecodeRules(const RequestParams& params, int64_t vocab_size, int64_t max_seq_len,
                         std::function<std::string(int)> token_text)
    : sampling_(params.sampling),
      stop_strings_(params.stop_strings),
      pause_tokens_(params.pause_tokens),
      blocked_(blocked_tokens(params, vocab_size)),
      constraint_(params.constraint ? ConstraintSlot(params.constraint->clone()) : ConstraintSlot()),
      continue_token_(params.continue_token),
      vocab_size_(vocab_size),
      max_seq_len_(max_seq_len),
      token_text_(std::move(token_text)),
      thinking_(params.sampling.think_end_token >= 0) {
  for (const auto& s : stop_strings_) longest_stop_ = std::max(longest_stop_, s.size());
}

void DecodeRules::end_thinking() {
  if (!thinking_) return;
  told_to_answer_ = true;
  sampling_.max_thinking_tokens = thinking_tokens_;
  sampling_.min_thinking_tokens = 0;
}

void DecodeRules::continue_from(const DecodeRules& other) {
  thinking_ = other.thinking_;
  thinking_tokens_ = other.thinking_tokens_;
  generated_ = other.generated_;
  text_tail_ = other.text_tail_;
  if (other.constraint_) constraint_ = other.constraint_;
  if (text_tail_.size() > longest_stop_) text_tail_.erase(0, text_tail_.size() - longest_stop_);
  if (other.told_to_answer_) end_thinking();  // "answer now" reaches a held prompt's later forks
}

DecodeRules::Choice DecodeRules::choose(const float* logits, Rng& rng) const {
  const int V = static_cast<int>(vocab_size_);
  if (constraint_) {
    allowed_.assign(static_cast<size_t>(V), 0);
    const TokenConstraint::Next next = constraint_.get()->next(allowed_);
    if (next.forced >= 0) return {next.forced, true};
    if (next.restricted) {
      // The grammar's tokens less the request's own masks; should those leave nothing, the grammar wins.
      std::vector<float> work(logits, logits + V);
      bool any = false;
      for (size_t i = 0; i < work.size(); ++i) {
        const bool off = !allowed_[i] || (!blocked_.empty() && blocked_[i]) || static_cast<int>(i) == unsampleable_;
        if (off) work[i] = kNegInf;
        any = any || !off;
      }
      if (!any)
        for (size_t i = 0; i < work.size(); ++i) work[i] = allowed_[i] ? logits[i] : kNegInf;
      if (next.steer_from >= 0 && next.steer_to >= 0 && work[static_cast<size_t>(next.steer_to)] > kNegInf) {
        const float a = work[static_cast<size_t>(next.steer_to)], b = logits[next.steer_from];
        const float hi = std::max(a, b);
        work[static_cast<size_t>(next.steer_to)] = hi + std::log(std::exp(a - hi) + std::exp(b - hi));
      }
      return {sample_token(work.data(), V, sampling_, rng), false};
    }
  }
  if (thinking_ && sampling_.max_thinking_tokens >= 0 && thinking_tokens_ >= sampling_.max_thinking_tokens)
    return {sampling_.think_end_token, true};  // budget spent: close the thinking span, the answer follows
  const bool below_min = thinking_ && thinking_tokens_ < sampling_.min_thinking_tokens;
  const bool suppress = below_min && continue_token_ < 0;
  int token = -1;
  if (blocked_.empty() && !suppress) token = sample_token(logits, V, sampling_, rng);
  if (token < 0 || token == unsampleable_) {
    std::vector<float> work(logits, logits + V);
    for (size_t i = 0; i < blocked_.size(); ++i)
      if (blocked_[i]) work[i] = kNegInf;
    if (unsampleable_ >= 0 && unsampleable_ < V) work[static_cast<size_t>(unsampleable_)] = kNegInf;
    if (suppress) {
      // Budget forcing: the model may not stop thinking (or stop altogether) before the minimum. When the masks
      // leave nothing else, the minimum yields.
      std::vector<float> masked = work;
      masked[static_cast<size_t>(sampling_.think_end_token)] = kNegInf;
      for (int stop : sampling_.stop_tokens) masked[static_cast<size_t>(stop)] = kNegInf;
      if (*std::max_element(masked.begin(), masked.end()) > kNegInf) work.swap(masked);
    }
    token = sample_token(work.data(), V, sampling_, rng);
  }
  if (below_min && continue_token_ >= 0 && (token == sampling_.think_end_token || contains(sampling_.stop_tokens, token)))
    return {continue_token_, true};  // "keep thinking"
  return {token, false};
}

DecodeRules::Verdict DecodeRules::append(int token, bool forced, bool from_model, int64_t total_length) {
  (void)forced;
  if (constraint_) constraint_.get()->append(token);
  ++generated_;
  if (thinking_) {
    if (token == sampling_.think_end_token) thinking_ = false;
    else if (from_model) ++thinking_tokens_;  // a tool's result, forced in, is not the model's thinking
  }
  Verdict v;
  if (from_model && contains(sampling_.stop_tokens, token)) v.finish = FinishReason::Stop;
  if (!stop_strings_.empty() && token_text_) {
    const size_t before = text_tail_.size();
    text_tail_ += token_text_(token);
    if (from_model && v.finish == FinishReason::None)
      for (const auto& s : stop_strings_) {
        // Only matches that end in the new text (earlier ones were checked before).
        const size_t from = before >= s.size() ? before - s.size() + 1 : 0;
        if (text_tail_.find(s, from) != std::string::npos) {
          v.finish = FinishReason::Stop;
          v.stop_string = s;
          break;
        }
      }
    if (text_tail_.size() > longest_stop_) text_tail_.erase(0, text_tail_.size() - longest_stop_);
  }
  if (v.finish == FinishReason::None && exhausted()) v.finish = FinishReason::Length;
  if (v.finish == FinishReason::None && total_length >= max_seq_len_) v.finish = FinishReason::Context;
  if (v.finish == FinishReason::None && from_model && contains(pause_tokens_, token)) v.park = true;
  return v;
}

}  // namespace muse

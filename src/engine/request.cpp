#include "engine/request.h"

#include <algorithm>

#include "util/error.h"

namespace muse {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::None: return "";
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Context: return "context";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "";
}

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

void EventQueue::push(TokenEvent event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

std::optional<TokenEvent> EventQueue::pop(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [&] { return !events_.empty(); };
  if (timeout == std::chrono::milliseconds::max()) cv_.wait(lock, ready);
  else if (!cv_.wait_for(lock, timeout, ready)) return std::nullopt;
  TokenEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

std::optional<TokenEvent> EventQueue::try_pop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (events_.empty()) return std::nullopt;
  TokenEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

size_t EventQueue::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

void RequestParams::validate(int64_t vocab_size) const {
  sampling.validate();
  auto contains = [](const std::vector<int>& ids, int id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
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
  for (int id : pause_tokens) {
    check(id, "pause token");
    if (contains(sampling.stop_tokens, id))
      throw MuseError("pause token " + std::to_string(id) + " is also a stop token");
  }
  if (!allowed_tokens.empty() &&
      std::all_of(allowed_tokens.begin(), allowed_tokens.end(), [&](int id) { return contains(banned_tokens, id); }))
    throw MuseError("every allowed token is also banned: nothing could be sampled");
  if (top_logprobs < 0 || top_logprobs > vocab_size)
    throw MuseError("top_logprobs must be in [0, vocab size], got " + std::to_string(top_logprobs));
  for (const auto& s : stop_strings)
    if (s.empty()) throw MuseError("stop strings must not be empty");
}

}  // namespace muse

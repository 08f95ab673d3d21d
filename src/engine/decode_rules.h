// The decode rules of one sequence, written once for every decoder (the engine; the test oracle): which token
// comes next from a row of logits (masks, the thinking budget with its forced end and continue cue, sampling),
// and what an appended token means (thinking span, stop tokens and strings, pause tokens, max_tokens, context).
//
//   DecodeRules rules(params, vocab, max_seq_len, token_text);
//   auto choice = rules.choose(logits, rng);              // {token, forced}
//   auto verdict = rules.append(choice.token, choice.forced, /*sampled=*/true, total_length);
//   if (verdict.finish != FinishReason::None) ...; else if (verdict.park) ...;
//
// A copy carries the state over: a fork continues exactly where its parent was.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/request.h"
#include "util/rng.h"

namespace muse {

class DecodeRules {
 public:
  DecodeRules() = default;
  // params must be valid (RequestParams::validate). token_text is needed only for stop strings.
  DecodeRules(const RequestParams& params, int64_t vocab_size, int64_t max_seq_len,
              std::function<std::string(int)> token_text = {});

  struct Choice {
    int token = -1;
    bool forced = false;  // the budget's forced <|/think|>, the continue cue or the constraint's token
  };
  // The next token given the raw logits (length vocab_size). Uses `rng` only when it samples.
  Choice choose(const float* logits, Rng& rng) const;

  struct Verdict {
    FinishReason finish = FinishReason::None;
    bool park = false;        // a pause token: wait for force()/resume()
    std::string stop_string;  // the stop string that matched
  };
  // Records an appended token. `from_model`: chosen by choose() (stop tokens, stop strings and pause tokens
  // apply); false for tokens forced in by the caller (a tool result may contain anything). `total_length` is the
  // sequence's length (prompt + generated) including this token.
  Verdict append(int token, bool forced, bool from_model, int64_t total_length);

  // Takes over another sequence's progress (thinking span, counts, stop-string tail, the constraint's state): a
  // fork with its own params continues where its parent was.
  void continue_from(const DecodeRules& other);

  // "Answer now": a sequence still inside its thinking span closes it at its next token (as a spent budget
  // does, the minimum waived) and answers. Nothing happens outside the thinking span.
  void end_thinking();

  // A token the model may never produce (the engine's <|patch|>: it carries pixels only the caller supplies).
  // Resampled without it in the rare case it is drawn, so every other draw stays exactly as without the rule.
  void set_unsampleable(int token) { unsampleable_ = token; }

  bool thinking() const { return thinking_; }
  int thinking_tokens() const { return thinking_tokens_; }
  int generated() const { return generated_; }
  int max_tokens() const { return sampling_.max_tokens; }
  bool exhausted() const { return generated_ >= sampling_.max_tokens; }

 private:
  SamplingParams sampling_;
  std::vector<std::string> stop_strings_;
  std::vector<int> pause_tokens_;
  std::vector<uint8_t> blocked_;  // allowed/banned mask, 1 = never sample (empty: none)
  ConstraintSlot constraint_;     // the request's grammar with this sequence's state (none: free)
  mutable std::vector<uint8_t> allowed_;  // the constraint's scratch mask
  int continue_token_ = -1;
  int unsampleable_ = -1;
  int64_t vocab_size_ = 0, max_seq_len_ = 0;
  std::function<std::string(int)> token_text_;
  size_t longest_stop_ = 0;
  // State.
  bool thinking_ = false;
  int thinking_tokens_ = 0;
  bool told_to_answer_ = false;  // end_thinking() was called: forks made later answer at once too
  int generated_ = 0;
  std::string text_tail_;  // generated text, last longest_stop_ bytes (stop strings)
};

}  // namespace muse

// Held-out accuracy on a chat JSONL file (e.g. a domain's expert-curated question/answer set): for each held-out
// conversation, everything before its final assistant message is the prompt, and the model's answer must match
// that message's content exactly (surrounding whitespace and case ignored).
#pragma once
#include <string>
#include <vector>

#include "data/jsonl.h"
#include "engine/engine.h"

namespace muse {

struct ChatEvalResult {
  std::string name;
  int conversations = 0;           // held-out conversations scored
  double accuracy = 0.0;
  double mean_thinking_tokens = 0.0;
  double seconds = 0.0;
  std::vector<std::string> examples;  // a few "question -> answer (expected ...)" lines to look at
};

ChatEvalResult evaluate_chat(Engine& engine, const Tokenizer& tokenizer,
                             const std::vector<ChatConversation>& conversations, const std::string& name,
                             int max_tokens = 128);

std::string chat_eval_markdown(const std::vector<ChatEvalResult>& results);

}  // namespace muse

// The one renderer from conversations to tokens, shared by training, the engine and (later) the server.
//   <s><|user|>PROMPT<|end|><|assistant|><|think|>REASONING<|/think|>ANSWER<|end|>
// Every token carries (t, row, col) rotary coordinates; text uses t on all three (plain 1D RoPE).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/segment.h"
#include "data/task.h"
#include "tokenizer/tokenizer.h"

namespace muse {

struct TokenSequence {
  std::vector<int> tokens;
  std::vector<uint8_t> loss_mask;                   // 1 where training predicts this token
  std::vector<std::array<int32_t, 3>> positions;    // (t, row, col) per token
  size_t size() const { return tokens.size(); }
  // Appends text tokens at the next positions.
  void append_text(const Tokenizer& tok, const std::string& text, bool trained);
  void append_token(int id, bool trained);
  int32_t next_t() const { return positions.empty() ? 0 : positions.back()[0] + 1; }
};

enum class Role { System, User, Assistant, Tool };
Role parse_role(const std::string& name);  // MuseError on unknown names
const char* role_name(Role role);

struct Message {
  Role role = Role::User;
  std::vector<Segment> content;
  std::string thinking;  // assistant only; dropped from history unless keep_thinking
};

struct RenderOptions {
  bool train_on_all_tokens = false;  // pretraining: every token is a target; SFT: assistant tokens only
  bool keep_thinking = true;         // render assistant thinking spans (history may drop them to save context)
};

// Renders a whole conversation. With `generation_prompt`, ends with "<|assistant|><|think|>" so the model
// continues with its reasoning.
TokenSequence render_conversation(const Tokenizer& tok, const std::vector<Message>& messages,
                                  bool generation_prompt, const RenderOptions& options = {});

// A task example as a conversation: the user's prompt, then the reference reasoning and answer.
TokenSequence render_example(const Tokenizer& tok, const Example& example, const RenderOptions& options = {});

// Just the prompt part of an example, ready for generation.
TokenSequence render_prompt(const Tokenizer& tok, const std::vector<Segment>& prompt);

// A generated assistant reply split into its parts.
struct ParsedReply {
  std::string thinking;
  std::string answer;
  int thinking_tokens = 0;         // tokens inside the thinking span
  int answer_tokens = 0;           // tokens of the answer (without the closing <|end|>)
  bool finished_thinking = false;  // saw <|/think|>
  bool finished = false;           // saw <|end|>
};
// `generated` are the tokens after the generation prompt (i.e. after <|think|>).
ParsedReply parse_reply(const Tokenizer& tok, const std::vector<int>& generated);

}  // namespace muse

// The one renderer from conversations to tokens, shared by training, the engine and (later) the server.
//   <s><|user|>PROMPT<|end|><|assistant|><|think|>REASONING<|/think|>ANSWER<|end|>
// Every token carries (t, row, col) rotary coordinates; text uses t on all three (plain 1D RoPE).
// Images: <|image|> then the patch grid in raster order, <|image_row|> closing each row, then <|/image|>; all
// patches share one t and take (t, t + row, t + col), as in Qwen2-VL's M-RoPE, and the text after the image
// continues at t + max(rows, cols + 1). Tables: <|table|>, then per row (the header first) each cell as
// <|cell|> + its text, <|table_row|> closing the row, then <|/table|>; table tokens advance t one by one but
// carry (row, col) = (base + row, base + col), so cells of one column share a column coordinate.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/jsonl.h"
#include "data/patches.h"
#include "data/segment.h"
#include "data/task.h"
#include "tokenizer/tokenizer.h"

namespace muse {

struct TokenSequence {
  std::vector<int> tokens;
  std::vector<uint8_t> loss_mask;                   // 1 where training predicts this token
  std::vector<std::array<int32_t, 3>> positions;    // (t, row, col) per token
  // Pixels of every <|patch|> token, in order of appearance: patch_dim floats each (see data/patches.h).
  std::vector<float> patches;
  int patch_dim = 0;
  size_t size() const { return tokens.size(); }
  size_t patch_count() const { return patch_dim == 0 ? 0 : patches.size() / static_cast<size_t>(patch_dim); }
  // Appends text tokens at the next positions.
  void append_text(const Tokenizer& tok, const std::string& text, bool trained);
  void append_token(int id, bool trained);
  // An image's first view as patches (never trained: the pixels are input, not predictions).
  void append_image(const Tokenizer& tok, const PatchGrid& grid);
  // A table's cells; `trained` applies to the cell text (the structure tokens are never targets).
  void append_table(const Tokenizer& tok, const Table& table, bool trained);
  int32_t next_t() const { return next_t_; }

 private:
  void push(int id, bool trained, std::array<int32_t, 3> position);
  int32_t next_t_ = 0;
};

enum class Role { System, User, Assistant, Tool };
Role parse_role(const std::string& name);  // MuseError on unknown names
const char* role_name(Role role);

struct Message {
  Role role = Role::User;
  std::vector<Segment> content;
  std::string thinking;  // assistant only; dropped from history unless keep_thinking
  // The thinking was cut short by a budget: its closing <|/think|> is what the harness forces, not a choice the
  // model makes, so it carries no loss (else the model learns to stop thinking early on its own).
  bool thinking_cut = false;
  // Tool calls made while thinking (at byte offsets of `thinking`), with their results (tokenizer/tool_format.h).
  std::vector<TraceToolCall> thinking_tool_calls = {};
  // The final assistant turn is still being written (a client answered its tool calls): rendered with its
  // thinking, calls and results but without <|/think|>, answer or <|end|>, and generation continues it.
  bool open = false;
};

struct RenderOptions {
  bool train_on_all_tokens = false;  // pretraining: every token is a target; SFT: assistant tokens only
  bool keep_thinking = true;         // render assistant thinking spans (history may drop them to save context)
  bool keep_history_thinking = true; // false: only the final message keeps its thinking (what chat history sends)
  bool train_final_turn_only = false;  // SFT on dressed-up chats: earlier assistant turns are context, not targets
  VisionParams vision;               // how images become patches; must match the model's config
};

// Renders a whole conversation. With `generation_prompt`, ends with "<|assistant|><|think|>" so the model
// continues with its reasoning — or, when the last message is an open assistant turn, right where it stopped.
TokenSequence render_conversation(const Tokenizer& tok, const std::vector<Message>& messages,
                                  bool generation_prompt, const RenderOptions& options = {});

// A task example as a conversation: the user's prompt, then the reference reasoning and answer.
TokenSequence render_example(const Tokenizer& tok, const Example& example, const RenderOptions& options = {});

// A task example dressed as a chat, the way people talk to the model: an optional system prompt, earlier
// solved exchanges (their reasoning dropped, as `muse chat --history` sends them), then the example's own
// question and, if `with_reply`, its reference reasoning and answer.
std::vector<Message> example_conversation(const Example& example, const std::vector<Example>& earlier,
                                          const std::string& system_prompt, bool with_reply);

// A user conversation from a chat JSONL file as messages, and the split it belongs to (a hash of its text):
// fine-tuning trains on Split::Train conversations, `muse eval --chat` scores the held-out ones.
std::vector<Message> conversation_messages(const ChatConversation& conversation);
Split conversation_split(const ChatConversation& conversation);

// Just the prompt part of an example, ready for generation.
TokenSequence render_prompt(const Tokenizer& tok, const std::vector<Segment>& prompt,
                            const RenderOptions& options = {});

// A generated assistant reply split into its parts.
struct ParsedReply {
  std::string thinking;            // the model's own reasoning text: tool calls and results left out
  std::string answer;              // likewise
  int thinking_tokens = 0;         // tokens inside the thinking span (tool results, forced in, not counted)
  int answer_tokens = 0;           // tokens of the answer (without the closing <|end|>)
  bool finished_thinking = false;  // saw <|/think|>
  bool finished = false;           // saw <|end|>
  std::vector<std::string> tool_calls;  // the body of every call, in order (tokenizer/tool_format.h)
  int tool_result_tokens = 0;           // tokens inside <|tool_result|> and <|agent_result|> spans (forced in)
};
// `generated` are the tokens after the generation prompt (i.e. after <|think|>).
ParsedReply parse_reply(const Tokenizer& tok, const std::vector<int>& generated);

}  // namespace muse

#include "tokenizer/chat_format.h"

#include <algorithm>

#include "tokenizer/tool_format.h"
#include "util/error.h"

namespace muse {

void TokenSequence::push(int id, bool trained, std::array<int32_t, 3> position) {
  tokens.push_back(id);
  loss_mask.push_back(trained ? 1 : 0);
  positions.push_back(position);
}

void TokenSequence::append_token(int id, bool trained) {
  const int32_t t = next_t_++;
  push(id, trained, {t, t, t});
}

void TokenSequence::append_image(const Tokenizer& tok, const PatchGrid& grid) {
  if (patch_dim != 0 && patch_dim != grid.patch_dim)
    throw MuseError("images of one sequence must share a patch size (" + std::to_string(patch_dim) + " vs " +
                    std::to_string(grid.patch_dim) + " floats per patch)");
  patch_dim = grid.patch_dim;
  append_token(tok.special(Special::ImageBegin), false);
  const int32_t t = next_t_;
  for (int row = 0; row < grid.rows; ++row) {
    for (int col = 0; col < grid.cols; ++col) push(tok.special(Special::ImagePatch), false, {t, t + row, t + col});
    push(tok.special(Special::ImageRowEnd), false, {t, t + row, t + grid.cols});
  }
  patches.insert(patches.end(), grid.pixels.begin(), grid.pixels.end());
  next_t_ = t + std::max(grid.rows, grid.cols + 1);
  append_token(tok.special(Special::ImageEnd), false);
}

void TokenSequence::append_table(const Tokenizer& tok, const Table& table, bool trained) {
  append_token(tok.special(Special::TableBegin), false);
  const int32_t base = next_t_;
  auto append_row = [&](const std::vector<std::string>& cells, int32_t row) {
    for (size_t col = 0; col < cells.size(); ++col) {
      const int32_t c = base + static_cast<int32_t>(col);
      push(tok.special(Special::TableCellSep), false, {next_t_++, base + row, c});
      for (int id : tok.encode(cells[col])) push(id, trained, {next_t_++, base + row, c});
    }
    push(tok.special(Special::TableRowEnd), false, {next_t_++, base + row, base + static_cast<int32_t>(cells.size())});
  };
  append_row(table.header, 0);
  for (size_t r = 0; r < table.rows.size(); ++r) append_row(table.rows[r], static_cast<int32_t>(r + 1));
  append_token(tok.special(Special::TableEnd), false);
}

void TokenSequence::append_text(const Tokenizer& tok, const std::string& text, bool trained) {
  for (int id : tok.encode(text)) append_token(id, trained);
}

Role parse_role(const std::string& name) {
  if (name == "system") return Role::System;
  if (name == "user") return Role::User;
  if (name == "assistant") return Role::Assistant;
  if (name == "tool") return Role::Tool;
  throw MuseError("unknown role \"" + name + "\", expected one of system, user, assistant, tool");
}

const char* role_name(Role role) {
  switch (role) {
    case Role::System: return "system";
    case Role::User: return "user";
    case Role::Assistant: return "assistant";
    case Role::Tool: return "tool";
  }
  return "?";
}

namespace {

Special role_token(Role role) {
  switch (role) {
    case Role::System: return Special::System;
    case Role::User: return Special::User;
    case Role::Assistant: return Special::Assistant;
    case Role::Tool: return Special::Tool;
  }
  return Special::User;
}

void append_segments(TokenSequence& seq, const Tokenizer& tok, const std::vector<Segment>& segments, bool trained,
                     const VisionParams& vision) {
  for (const auto& segment : segments) {
    switch (segment.kind) {
      case SegmentKind::Text: seq.append_text(tok, segment.text, trained); break;
      case SegmentKind::Image: seq.append_image(tok, patchify(*segment.image, vision)); break;
      case SegmentKind::Table: seq.append_table(tok, *segment.table, trained); break;
    }
  }
}

}  // namespace

TokenSequence render_conversation(const Tokenizer& tok, const std::vector<Message>& messages,
                                  bool generation_prompt, const RenderOptions& options) {
  TokenSequence seq;
  const bool all = options.train_on_all_tokens;
  seq.append_token(tok.bos(), false);
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& message = messages[i];
    const bool final = i + 1 == messages.size();
    const bool trained = all || (message.role == Role::Assistant && (final || !options.train_final_turn_only));
    // The role header is context, not a prediction target: the harness decides who speaks.
    seq.append_token(tok.special(role_token(message.role)), all);
    if (message.role == Role::Assistant) {
      seq.append_token(tok.special(Special::ThinkBegin), all);
      const bool open = final && message.open;  // the model goes on from its last tool result
      if (open || (options.keep_thinking && (final || options.keep_history_thinking)))
        append_reasoning(seq, tok, message.thinking, message.thinking_tool_calls, trained, options.vision);
      if (open) return seq;
      seq.append_token(tok.special(Special::ThinkEnd), trained && !message.thinking_cut);
    }
    append_segments(seq, tok, message.content, trained, options.vision);
    seq.append_token(tok.special(Special::EndOfTurn), trained);
  }
  if (generation_prompt) {
    seq.append_token(tok.special(Special::Assistant), all);
    seq.append_token(tok.special(Special::ThinkBegin), all);
  }
  return seq;
}

TokenSequence render_example(const Tokenizer& tok, const Example& example, const RenderOptions& options) {
  std::vector<Message> messages(2);
  messages[0].role = Role::User;
  messages[0].content = example.prompt;
  messages[1].role = Role::Assistant;
  messages[1].thinking = example.reasoning;
  messages[1].thinking_cut = example.reasoning_cut;
  messages[1].thinking_tool_calls = example.tool_calls;
  messages[1].content = {text_segment(example.answer)};
  return render_conversation(tok, messages, false, options);
}

std::vector<Message> example_conversation(const Example& example, const std::vector<Example>& earlier,
                                          const std::string& system_prompt, bool with_reply) {
  std::vector<Message> messages;
  if (!system_prompt.empty()) messages.push_back({Role::System, {text_segment(system_prompt)}, ""});
  for (const auto& turn : earlier) {
    messages.push_back({Role::User, turn.prompt, ""});
    messages.push_back({Role::Assistant, {text_segment(turn.answer)}, turn.reasoning});
  }
  messages.push_back({Role::User, example.prompt, ""});
  if (with_reply)
    messages.push_back({Role::Assistant, {text_segment(example.answer)}, example.reasoning, example.reasoning_cut,
                        example.tool_calls});
  return messages;
}

std::vector<Message> conversation_messages(const ChatConversation& conversation) {
  std::vector<Message> messages;
  for (const auto& m : conversation.messages)
    messages.push_back({parse_role(m.role), {text_segment(m.content)}, m.thinking});
  return messages;
}

Split conversation_split(const ChatConversation& conversation) {
  std::string text;
  for (const auto& m : conversation.messages) text += m.role + ":" + m.content + "\n";
  return split_of(text);
}

TokenSequence render_prompt(const Tokenizer& tok, const std::vector<Segment>& prompt, const RenderOptions& options) {
  std::vector<Message> messages(1);
  messages[0].content = prompt;
  return render_conversation(tok, messages, true, options);
}

ParsedReply parse_reply(const Tokenizer& tok, const std::vector<int>& generated) {
  ParsedReply reply;
  std::vector<int> thinking, answer, call;
  enum class Span { Text, Call, Result } span = Span::Text;
  int calls_in_thinking = 0;
  for (int id : generated) {
    // Tool calls and their results are not reasoning text (nor answer text): kept apart.
    if (span == Span::Result) {
      if (id == tok.special(Special::ToolResultEnd) || id == tok.special(Special::AgentResultEnd)) span = Span::Text;
      else ++reply.tool_result_tokens;
      continue;
    }
    if (span == Span::Call) {
      if (id == tok.special(Special::ToolCallEnd)) {
        reply.tool_calls.push_back(tok.decode(call));
        span = Span::Text;
      } else {
        call.push_back(id);
      }
      if (!reply.finished_thinking) ++calls_in_thinking;
      continue;
    }
    if (id == tok.special(Special::ToolCallBegin)) {
      span = Span::Call;
      call.clear();
      if (!reply.finished_thinking) ++calls_in_thinking;
      continue;
    }
    if (id == tok.special(Special::ToolResultBegin) || id == tok.special(Special::AgentResultBegin)) {
      span = Span::Result;
      continue;
    }
    if (id == tok.special(Special::EndOfTurn) || id == tok.eos()) {
      reply.finished = true;
      break;
    }
    if (id == tok.special(Special::ThinkEnd) && !reply.finished_thinking) {
      reply.finished_thinking = true;
      continue;
    }
    (reply.finished_thinking ? answer : thinking).push_back(id);
  }
  if (span == Span::Call) reply.tool_calls.push_back(tok.decode(call));  // never closed
  reply.thinking_tokens = static_cast<int>(thinking.size()) + calls_in_thinking;
  reply.answer_tokens = static_cast<int>(answer.size());
  reply.thinking = tok.decode(thinking);
  reply.answer = tok.decode(answer);
  return reply;
}

}  // namespace muse

// User training data in JSON Lines: one JSON object per line, blank lines skipped.
//   text:  {"text": "..."}
//   chat:  {"messages": [{"role": "system|user|assistant|tool", "content": "..."}, ...]}
//          an assistant message may carry its reasoning: {"role": "assistant", "thinking": "...", "content": "..."};
//          every conversation needs at least one assistant message (what fine-tuning learns from).
// Every problem is a MuseError "PATH:LINE: what is wrong", so a bad row in a million-line file is easy to find.
#pragma once
#include <string>
#include <vector>

namespace muse {

struct TextDocument {
  std::string text;
};

struct ChatMessage {
  std::string role;  // one of system, user, assistant, tool
  std::string content;
  std::string thinking;  // assistant only, optional
};

struct ChatConversation {
  std::vector<ChatMessage> messages;
  std::string where;  // "PATH:LINE", for messages about this conversation later on
};

// Throws MuseError if the file is missing, any line is malformed, or it holds no documents.
std::vector<TextDocument> load_text_jsonl(const std::string& path);
// Throws MuseError if the file is missing, any line is malformed, or it holds no conversations.
std::vector<ChatConversation> load_chat_jsonl(const std::string& path);

}  // namespace muse

#include "data/jsonl.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace muse {

namespace {

constexpr std::array<const char*, 4> kRoles = {"system", "user", "assistant", "tool"};
constexpr size_t kMaxParserMessageChars = 200;  // nlohmann quotes what it last read, which can be a whole line

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 7: ..." as "column 7: ...":
// the file line is already in the error's prefix, and the JSON itself is always one line.
std::string parser_message(const nlohmann::json::parse_error& error) {
  std::string message = error.what();
  for (const std::string prefix : {"] ", "parse error at line 1, "}) {
    const size_t at = message.find(prefix);
    if (at != std::string::npos) message.erase(0, at + prefix.size());
  }
  if (message.size() > kMaxParserMessageChars) message = message.substr(0, kMaxParserMessageChars) + "...";
  return message;
}

// Calls handle(object, where) for the JSON object on each non-blank line, `where` being "PATH:LINE".
template <typename Handle>
void for_each_object(const std::string& path, Handle handle) {
  std::error_code ignored;  // a path that cannot be inspected fails to open just below, with a clearer message
  if (std::filesystem::is_directory(path, ignored)) throw file_error(path, "is a directory, expected a .jsonl file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code status_error;  // set when the path cannot be inspected (permissions): not a missing file
    const bool missing = !std::filesystem::exists(path, status_error) && !status_error;
    throw file_error(path, "cannot open file", missing ? ErrorKind::NotFound : ErrorKind::InvalidRequest);
  }
  std::string line;
  for (size_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& error) {
      throw file_error(where, "invalid JSON (" + parser_message(error) + ")");
    }
    if (!object.is_object()) throw file_error(where, "expected a JSON object, got " + std::string(object.type_name()));
    handle(object, where);
  }
  if (in.bad()) throw file_error(path, "read error");
}

// The string field `key` of `object`; throws "WHERE: LABEL missing or not a string" otherwise.
std::string string_field(const nlohmann::json& object, const char* key, const std::string& where,
                         const std::string& label) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) throw file_error(where, label + " missing or not a string");
  return it->get<std::string>();
}

}  // namespace

std::vector<TextDocument> load_text_jsonl(const std::string& path) {
  std::vector<TextDocument> documents;
  for_each_object(path, [&](const nlohmann::json& object, const std::string& where) {
    documents.push_back({string_field(object, "text", where, "field \"text\"")});
  });
  if (documents.empty()) throw file_error(path, "no documents");
  return documents;
}

std::vector<ChatConversation> load_chat_jsonl(const std::string& path) {
  std::vector<ChatConversation> conversations;
  for_each_object(path, [&](const nlohmann::json& object, const std::string& where) {
    const auto messages = object.find("messages");
    if (messages == object.end() || !messages->is_array())
      throw file_error(where, "field \"messages\" missing or not an array");
    if (messages->empty()) throw file_error(where, "field \"messages\" is empty");
    ChatConversation conversation;
    for (size_t i = 0; i < messages->size(); ++i) {
      const nlohmann::json& message = (*messages)[i];
      const std::string label = "messages[" + std::to_string(i) + "]";
      if (!message.is_object()) throw file_error(where, label + " is not an object");
      std::string role = string_field(message, "role", where, label + ".role");
      if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end())
        throw file_error(where, label + ".role is " + nlohmann::json(role).dump() +
                                    ", expected one of system, user, assistant, tool");
      std::string thinking;
      if (message.contains("thinking")) {
        if (role != "assistant") throw file_error(where, label + ".thinking is only allowed on assistant messages");
        thinking = string_field(message, "thinking", where, label + ".thinking");
      }
      conversation.messages.push_back(
          {role, string_field(message, "content", where, label + ".content"), std::move(thinking)});
    }
    if (std::none_of(conversation.messages.begin(), conversation.messages.end(),
                     [](const ChatMessage& m) { return m.role == "assistant"; }))
      throw file_error(where, "no assistant message (a conversation must show the model what to answer)");
    conversation.where = where;
    conversations.push_back(std::move(conversation));
  });
  if (conversations.empty()) throw file_error(path, "no conversations");
  return conversations;
}

}  // namespace muse

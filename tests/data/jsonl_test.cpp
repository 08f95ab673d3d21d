#include "data/jsonl.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "../util/error_kind_of.h"
#include "util/error.h"

namespace muse {
namespace {

// A path in the test temp dir that no concurrently running test process shares.
std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "muse_jsonl_test_" + std::to_string(::getpid()) + "_" + name;
}

// Gives each test its files and removes them afterwards.
class JsonlFiles : public ::testing::Test {
 protected:
  // Writes `contents` to a fresh temp file and returns its path.
  std::string write_temp(const std::string& name, const std::string& contents) {
    const std::string path = temp_path(name);
    std::ofstream(path, std::ios::binary) << contents;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& path : paths_) std::remove(path.c_str());
  }

 private:
  std::vector<std::string> paths_;
};
using TextJsonl = JsonlFiles;
using ChatJsonl = JsonlFiles;

template <typename Load>
std::string error_of(Load load) {
  try {
    load();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST_F(TextJsonl, LoadsDocumentsSkippingBlankLines) {
  const std::string path = write_temp("text.jsonl",
                                      "{\"text\": \"first\"}\n"
                                      "\n"
                                      "   \n"
                                      "{\"text\": \"line\\nbreak \\u00e9 \xe2\x9c\x93\", \"source\": \"ignored\"}\r\n"
                                      "{\"text\": \"\"}");  // no trailing newline
  const std::vector<TextDocument> documents = load_text_jsonl(path);
  ASSERT_EQ(documents.size(), 3u);
  EXPECT_EQ(documents[0].text, "first");
  EXPECT_EQ(documents[1].text, "line\nbreak \xc3\xa9 \xe2\x9c\x93");
  EXPECT_EQ(documents[2].text, "");
}

TEST_F(TextJsonl, ErrorsNameTheFileAndLine) {
  const std::string missing = temp_path("does_not_exist.jsonl");
  EXPECT_EQ(error_of([&] { load_text_jsonl(missing); }), missing + ": cannot open file");
  EXPECT_EQ(error_kind_of([&] { load_text_jsonl(missing); }), "not_found");

  const std::string bad_json = write_temp("bad_json.jsonl", "{\"text\": \"ok\"}\n\n{\"text\": oops}\n");
  const std::string message = error_of([&] { load_text_jsonl(bad_json); });
  EXPECT_EQ(message.rfind(bad_json + ":3: invalid JSON (", 0), 0u) << message;
  EXPECT_NE(message.find("column"), std::string::npos) << message;
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
  EXPECT_EQ(error_kind_of([&] { load_text_jsonl(bad_json); }), "invalid_request");

  const std::string no_text = write_temp("no_text.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"typo\"}\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(no_text); }), no_text + ":2: field \"text\" missing or not a string");

  const std::string number = write_temp("number.jsonl", "{\"text\": 5}\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(number); }), number + ":1: field \"text\" missing or not a string");

  const std::string array = write_temp("array.jsonl", "[\"text\"]\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(array); }), array + ":1: expected a JSON object, got array");

  const std::string two_objects = write_temp("two.jsonl", "{\"text\": \"a\"} {\"text\": \"b\"}\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(two_objects); }).rfind(two_objects + ":1: invalid JSON (", 0), 0u);

  const std::string bad_utf8 = write_temp("utf8.jsonl", "{\"text\": \"\xff\"}\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(bad_utf8); }).rfind(bad_utf8 + ":1: invalid JSON (", 0), 0u);

  EXPECT_EQ(error_of([] { load_text_jsonl(::testing::TempDir()); }),
            ::testing::TempDir() + ": is a directory, expected a .jsonl file");
}

TEST_F(TextJsonl, EmptyFileHasNoDocuments) {
  const std::string empty = write_temp("empty.jsonl", "");
  EXPECT_EQ(error_of([&] { load_text_jsonl(empty); }), empty + ": no documents");
  const std::string blank = write_temp("blank.jsonl", "\n  \n\r\n");
  EXPECT_EQ(error_of([&] { load_text_jsonl(blank); }), blank + ": no documents");
}

TEST_F(ChatJsonl, LoadsConversationsWithEveryRole) {
  const std::string path = write_temp(
      "chat.jsonl",
      R"({"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"},)"
      R"( {"role": "assistant", "content": "4"}, {"role": "tool", "content": "{}"}]})"
      "\n\n"
      R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]})"
      "\n");
  const std::vector<ChatConversation> conversations = load_chat_jsonl(path);
  ASSERT_EQ(conversations.size(), 2u);
  ASSERT_EQ(conversations[0].messages.size(), 4u);
  EXPECT_EQ(conversations[0].messages[0].role, "system");
  EXPECT_EQ(conversations[0].messages[0].content, "be brief");
  EXPECT_EQ(conversations[0].messages[2].role, "assistant");
  EXPECT_EQ(conversations[0].messages[2].content, "4");
  EXPECT_EQ(conversations[0].messages[3].role, "tool");
  EXPECT_EQ(conversations[1].messages[1].content, "");
  EXPECT_EQ(conversations[1].where, path + ":3");
}

TEST_F(ChatJsonl, AssistantMessagesMayCarryTheirReasoning) {
  const std::string path = write_temp(
      "thinking.jsonl",
      R"({"messages": [{"role": "user", "content": "2 g in mg?"}, {"role": "assistant", "thinking": "2*1000=2000", "content": "2000 mg"}]})"
      "\n");
  const auto conversations = load_chat_jsonl(path);
  EXPECT_EQ(conversations[0].messages[1].thinking, "2*1000=2000");
  EXPECT_EQ(conversations[0].messages[1].content, "2000 mg");
  EXPECT_EQ(conversations[0].messages[0].thinking, "");
}

TEST_F(ChatJsonl, ErrorsNameTheFileLineAndMessage) {
  const std::string good = R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})";
  const auto error_for = [&](const std::string& name, const std::string& bad_line) {
    const std::string path = write_temp(name, good + "\n" + bad_line + "\n");
    return std::make_pair(path, error_of([&] { load_chat_jsonl(path); }));
  };

  auto [path, message] =
      error_for("role.jsonl", R"({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]})");
  EXPECT_EQ(message, path + ":2: messages[1].role is \"bot\", expected one of system, user, assistant, tool");

  std::tie(path, message) = error_for("no_messages.jsonl", R"({"text": "not chat"})");
  EXPECT_EQ(message, path + ":2: field \"messages\" missing or not an array");

  std::tie(path, message) = error_for("empty_messages.jsonl", R"({"messages": []})");
  EXPECT_EQ(message, path + ":2: field \"messages\" is empty");

  std::tie(path, message) = error_for("not_object.jsonl", R"({"messages": ["hello"]})");
  EXPECT_EQ(message, path + ":2: messages[0] is not an object");

  std::tie(path, message) = error_for("no_role.jsonl", R"({"messages": [{"content": "hi"}]})");
  EXPECT_EQ(message, path + ":2: messages[0].role missing or not a string");

  std::tie(path, message) = error_for("no_content.jsonl", R"({"messages": [{"role": "user", "content": null}]})");
  EXPECT_EQ(message, path + ":2: messages[0].content missing or not a string");

  std::tie(path, message) = error_for("no_assistant.jsonl", R"({"messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_EQ(message, path + ":2: no assistant message (a conversation must show the model what to answer)");

  std::tie(path, message) = error_for(
      "user_thinking.jsonl", R"({"messages": [{"role": "user", "content": "a", "thinking": "b"}, {"role": "assistant", "content": "c"}]})");
  EXPECT_EQ(message, path + ":2: messages[0].thinking is only allowed on assistant messages");

  std::tie(path, message) = error_for("truncated.jsonl", R"({"messages": [{"role": "user")");
  EXPECT_EQ(message.rfind(path + ":2: invalid JSON (", 0), 0u) << message;

  const std::string empty = write_temp("empty_chat.jsonl", "\n");
  EXPECT_EQ(error_of([&] { load_chat_jsonl(empty); }), empty + ": no conversations");
  const std::string missing = temp_path("missing_chat.jsonl");
  EXPECT_EQ(error_of([&] { load_chat_jsonl(missing); }), missing + ": cannot open file");
}

}  // namespace
}  // namespace muse

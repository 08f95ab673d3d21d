// Sub-agents over the API (server/sub_agents.h): a request with muse_spawn answered by an agent tree on the real
// engine, the root's reply scripted (a random tiny model would never spawn), the children the model's own.
#include "server/sub_agents.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <filesystem>

#include "server/active_requests.h"
#include "server/server.h"
#include "support/script_constraint.h"
#include "tokenizer/chat_format.h"

namespace muse::server {
namespace {
using nlohmann::json;

using test::Script;

class SubAgents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = ::testing::TempDir() + "muse_sub_agents_test_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    TokenizerTrainParams params;
    params.vocab_size = 400;
    train_tokenizer({"spawn {\"tasks\":[\"23*41\",\"57*18\"]} calculator expression", "What is 2+2? 0123456789"},
                    params, dir + "/tokenizer.model");
    Tokenizer tok = Tokenizer::load(dir + "/tokenizer.model");
    std::filesystem::remove_all(dir);
    at::set_num_threads(1);
    ModelConfig c = preset_config("tiny");
    c.vocab_size = tok.vocab_size();
    c.n_layers = 1;
    c.max_seq_len = 512;
    c.patch_size = 8;
    c.patch_token_id = tok.special(Special::ImagePatch);
    torch::manual_seed(3);
    loaded_ = new LoadedModel{c, Transformer(c), std::move(tok), ""};
    loaded_->model->eval();
  }
  static void TearDownTestSuite() {
    delete loaded_;
    loaded_ = nullptr;
  }
  static const Tokenizer& tok() { return loaded_->tokenizer; }

  // The turn of `body`'s request, its root scripted: `calls` (tool-call bodies) inside its thinking, then `answer`.
  static ChatTurn scripted_turn(const json& body, const std::vector<std::string>& calls, const std::string& answer) {
    ChatTurn turn = prepare_chat(body.dump(), *loaded_, ServerOptions{});
    std::vector<int> tokens;
    for (const auto& call : calls) {
      tokens.push_back(tok().special(Special::ToolCallBegin));
      for (int id : tok().encode(call)) tokens.push_back(id);
      tokens.push_back(tok().special(Special::ToolCallEnd));
    }
    tokens.push_back(tok().special(Special::ThinkEnd));
    for (int id : tok().encode(answer)) tokens.push_back(id);
    turn.params.constraint = std::make_shared<Script>(tokens, tok().special(Special::EndOfTurn));
    return turn;
  }
  static json request(const json& spawn) {
    return json{{"messages", json::array({json{{"role", "user"}, {"content", "What is 23*41+57*18?"}}})},
                {"max_tokens", 200},
                {"muse_spawn", spawn}};
  }

  static inline LoadedModel* loaded_ = nullptr;
};

TEST_F(SubAgents, TheWholeTreeComesWithTheRootsReply) {
  const ChatTurn turn = scripted_turn(request(json{{"child_max_tokens", 8}}),
                                      {R"(spawn {"tasks":["23*41","57*18"]})", R"(calculator {"expression":"2+2"})"}, "2");
  Engine engine(loaded_->model, torch::kCPU, EngineOptions{});
  ServerCounters counters;
  ActiveRequests active;
  const json out = complete_agent_tree(engine, tok(), turn, ResponseMeta{"chatcmpl-1", 0, "m"}, &counters, &active);
  EXPECT_EQ(active.size(), 0u);  // unregistered once answered
  const json& message = out["choices"][0]["message"];
  EXPECT_EQ(message["content"], "2");
  EXPECT_EQ(out["choices"][0]["finish_reason"], "stop");
  // The root's calls, the spawn with its children's results among them, as built-in calls.
  ASSERT_EQ(message["muse_tool_calls"].size(), 2u) << message.dump(1);
  EXPECT_EQ(message["muse_tool_calls"][0]["function"]["name"], "spawn");
  EXPECT_EQ(message["muse_tool_calls"][1]["function"]["name"], "calculator");
  EXPECT_EQ(message["muse_tool_calls"][1]["result"]["content"], "4");
  const json& tree = message["muse_agents"];
  ASSERT_EQ(tree["agents"].size(), 3u) << tree.dump(1);
  EXPECT_TRUE(tree["agents"][0]["parent"].is_null());
  EXPECT_EQ(tree["agents"][0]["spawns"][0]["children"], json::array({1, 2}));
  EXPECT_EQ(tree["agents"][0]["spawns"][0]["tasks"], json::array({"23*41", "57*18"}));
  EXPECT_TRUE(tree["agents"][0]["spawns"][0]["error"].is_null());
  for (int i : {1, 2}) {
    const json& child = tree["agents"][i];
    EXPECT_EQ(child["parent"], 0);
    EXPECT_EQ(child["depth"], 1);
    EXPECT_LE(child["tokens"].get<int>(), 8);  // its limit came from the request
    EXPECT_LE(child["thinking_tokens"].get<int>(), child["tokens"].get<int>());
    EXPECT_TRUE(child.contains("reasoning_content"));
  }
  EXPECT_EQ(tree["agents"][1]["task"], "23*41");
  // Usage counts every agent's tokens.
  EXPECT_EQ(out["usage"]["completion_tokens"], tree["tokens"]);
  EXPECT_GT(tree["tokens"].get<int>(), tree["agents"][0]["tokens"].get<int>());
  EXPECT_EQ(counters.completion_tokens.load(), tree["tokens"].get<int64_t>());
}

TEST_F(SubAgents, ASpawnOverTheRequestsLimitsIsARefusalTheModelReads) {
  // max_children 1: a two-task spawn is refused, the root answers anyway.
  const ChatTurn turn = scripted_turn(request(json{{"max_children", 1}}), {R"(spawn {"tasks":["23*41","57*18"]})"}, "7");
  Engine engine(loaded_->model, torch::kCPU, EngineOptions{});
  const json out = complete_agent_tree(engine, tok(), turn, ResponseMeta{"chatcmpl-2", 0, "m"});
  const json& tree = out["choices"][0]["message"]["muse_agents"];
  EXPECT_EQ(out["choices"][0]["message"]["content"], "7");
  ASSERT_EQ(tree["agents"].size(), 1u);
  EXPECT_EQ(tree["refused_spawns"], 1);
  EXPECT_EQ(tree["agents"][0]["spawns"][0]["error"], "limit_exceeded");
  // The call's result says it once (not "error: limit_exceeded: error: limit_exceeded: ...").
  const json& call = out["choices"][0]["message"]["muse_tool_calls"][0];
  EXPECT_EQ(call["result"]["content"], "error: limit_exceeded: at most 1 tasks per spawn, got 2") << call.dump();
  EXPECT_EQ(call["result"]["is_error"], true);
  EXPECT_NE(tree["agents"][0]["spawns"][0]["results"][0].get<std::string>().find("at most 1 tasks per spawn"),
            std::string::npos)
      << tree.dump(1);
}

}  // namespace
}  // namespace muse::server

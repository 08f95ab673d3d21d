#include "agents/spawn.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <filesystem>

#include "support/script_constraint.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tool_format.h"
#include "util/error.h"

namespace muse {
namespace {

std::string test_dir() { return ::testing::TempDir() + "muse_spawn_test_" + std::to_string(::getpid()); }

using test::Script;

class Spawn : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::filesystem::create_directories(test_dir());
    TokenizerTrainParams params;
    params.vocab_size = 400;
    train_tokenizer({"spawn {\"tasks\":[\"23*41\",\"57*18\"]} got 23*41 57*18 error limit", "What is 2+2? 0123456789"},
                    params, test_dir() + "/tokenizer.model");
    tok_ = new Tokenizer(Tokenizer::load(test_dir() + "/tokenizer.model"));
    std::filesystem::remove_all(test_dir());
    at::set_num_threads(1);
    ModelConfig c = preset_config("tiny");
    c.vocab_size = tok_->vocab_size();
    c.n_layers = 1;
    c.max_seq_len = 512;
    c.patch_size = 8;
    c.patch_token_id = tok_->special(Special::ImagePatch);
    torch::manual_seed(3);
    model_ = new Transformer(c);
    (*model_)->eval();
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete model_;
    tok_ = nullptr;
    model_ = nullptr;
  }
  static const Tokenizer& tok() { return *tok_; }

  // Tokens of: a spawn call with `body`'s JSON, repeated `calls` times, then <|/think|> and `answer`.
  static std::vector<int> spawning(const std::string& json, int calls, const std::string& answer) {
    std::vector<int> out;
    for (int i = 0; i < calls; ++i) {
      out.push_back(tok().special(Special::ToolCallBegin));
      for (int id : tok().encode(std::string("spawn ") + json)) out.push_back(id);
      out.push_back(tok().special(Special::ToolCallEnd));
    }
    out.push_back(tok().special(Special::ThinkEnd));
    for (int id : tok().encode(answer)) out.push_back(id);
    return out;
  }
  static std::shared_ptr<const TokenConstraint> script(std::vector<int> tokens) {
    return std::make_shared<Script>(std::move(tokens), tok().special(Special::EndOfTurn));
  }

  struct Harness {
    Engine engine;
    AgentTree tree;
    Harness(SpawnLimits limits)
        : engine(*model_, torch::kCPU, EngineOptions{}),
          tree(engine, tok(), builtin_tools(), ToolUseParams{}, limits, VisionParams{}) {}
  };

  static AgentTreeRun run(Harness& h, const std::vector<int>& root_script, int max_tokens = 400) {
    const std::vector<Segment> segments = {text_segment("What is 2+2?")};
    RequestParams params;
    params.sampling.max_tokens = max_tokens;
    params.sampling.stop_tokens = {tok().special(Special::EndOfTurn)};
    params.sampling.think_end_token = tok().special(Special::ThinkEnd);
    params.constraint = script(root_script);
    return h.tree.run(segments, Prompt::of(render_prompt(tok(), segments)), params);
  }

  static std::string generated_text(const AgentNode& agent) { return tok().decode(agent.sequence.tokens, true); }

 private:
  static inline Tokenizer* tok_ = nullptr;
  static inline Transformer* model_ = nullptr;
};

TEST_F(Spawn, ChildrenRunInOneBatchAndTheirAnswersReturnInTaskOrder) {
  Harness h(SpawnLimits{});
  h.tree.configure_child = [](RequestParams& p, const AgentNode& child) {
    // Each child answers "got <its task>".
    std::vector<int> tokens = {tok().special(Special::ThinkEnd)};
    for (int id : tok().encode("got " + child.task)) tokens.push_back(id);
    p.constraint = script(tokens);
  };
  const auto r = run(h, spawning(R"({"tasks":["23*41","57*18"]})", 1, "2"));
  ASSERT_EQ(r.agents.size(), 3u);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.refused_spawns, 0);
  const auto& root = r.agents[0];
  EXPECT_EQ(root.finish_reason, FinishReason::Stop);
  EXPECT_EQ(root.answer, "2");
  ASSERT_EQ(root.spawns.size(), 1u);
  EXPECT_EQ(root.spawns[0].children, (std::vector<int>{1, 2}));
  EXPECT_EQ(root.spawns[0].results, (std::vector<std::string>{"got 23*41", "got 57*18"}));
  const std::string text = generated_text(root);
  EXPECT_NE(text.find("<|/tool_call|><|agent_result|>got 23*41<|/agent_result|><|agent_result|>got 57*18<|/agent_result|><|/think|>"),
            std::string::npos)
      << text;
  for (int i : {1, 2}) {
    EXPECT_EQ(r.agents[i].parent, 0);
    EXPECT_EQ(r.agents[i].depth, 1);
    EXPECT_EQ(r.agents[i].answer, "got " + r.agents[i].task);
  }
  EXPECT_EQ(r.agents[1].task, "23*41");
  // The spawn call shows its results; the agent-result tokens are not the root's thinking or answer.
  ASSERT_EQ(root.calls.size(), 1u);
  EXPECT_EQ(root.calls[0].name, "spawn");
  EXPECT_EQ(root.calls[0].result_text, "got 23*41; got 57*18");
  EXPECT_EQ(root.thinking.find("got"), std::string::npos) << root.thinking;
}

TEST_F(Spawn, EndlessSpawningIsStoppedByTheLimitsWithAClearResult) {
  SpawnLimits limits;
  limits.max_depth = 2;
  limits.max_spawns = 2;
  limits.max_agents = 6;
  Harness h(limits);
  // Every agent, at every level, tries to spawn two more, five times over.
  const auto endless = spawning(R"({"tasks":["23*41","57*18"]})", 5, "7");
  h.tree.configure_child = [&](RequestParams& p, const AgentNode&) { p.constraint = script(endless); };
  const auto r = run(h, endless, 480);
  EXPECT_LE(r.agents.size(), 6u);
  EXPECT_GT(r.refused_spawns, 0);
  EXPECT_EQ(r.agents[0].finish_reason, FinishReason::Stop);
  EXPECT_EQ(r.agents[0].answer, "7");
  const std::string text = generated_text(r.agents[0]);
  EXPECT_NE(text.find("error: limit_exceeded: at most 2 spawns per agent"), std::string::npos) << text;
  bool agents_refused = false;  // (the depth limit has its own test below)
  for (const auto& a : r.agents)
    for (const auto& s : a.spawns)
      if (s.error != ToolError::None) agents_refused |= s.results[0].find("at most 6 agents") != std::string::npos;
  EXPECT_TRUE(agents_refused);
  for (const auto& a : r.agents) {
    EXPECT_LE(a.depth, 2);
    EXPECT_NE(a.finish_reason, FinishReason::None);
  }
}

TEST_F(Spawn, ChildrenStopAtTheDepthLimitAndNeverGetMoreTokensThanTheirParentHasLeft) {
  SpawnLimits limits;
  limits.max_depth = 1;
  limits.child_max_tokens = 1000;
  Harness h(limits);
  const auto again = spawning(R"({"tasks":["23*41"]})", 1, "1");
  std::vector<int> child_budgets;
  h.tree.configure_child = [&](RequestParams& p, const AgentNode&) {
    child_budgets.push_back(p.sampling.max_tokens);
    p.constraint = script(again);
  };
  const auto r = run(h, again, 120);
  ASSERT_EQ(r.agents.size(), 2u);
  ASSERT_EQ(child_budgets.size(), 1u);
  EXPECT_LT(child_budgets[0], 120);  // the root had generated the call already
  EXPECT_EQ(child_budgets[0], 120 - static_cast<int>(tok().encode("spawn {\"tasks\":[\"23*41\"]}").size()) - 2);
  const auto& child = r.agents[1];
  ASSERT_EQ(child.spawns.size(), 1u);
  EXPECT_EQ(child.spawns[0].error, ToolError::LimitExceeded);
  EXPECT_NE(child.spawns[0].results[0].find("depth 1 may not spawn"), std::string::npos);
  EXPECT_EQ(child.answer, "1");
  EXPECT_EQ(r.agents[0].spawns[0].results, (std::vector<std::string>{"1"}));
  EXPECT_EQ(child_token_limit(limits, 100, 30), 70);
  EXPECT_EQ(child_token_limit(limits, 100, 130), 0);
}

TEST_F(Spawn, BadArgumentsOffAndTimeoutAreAnsweredNotFatal) {
  {
    Harness h(SpawnLimits{});
    const auto r = run(h, spawning(R"({"tasks":5})", 1, "3"));
    ASSERT_EQ(r.agents.size(), 1u);
    EXPECT_EQ(r.agents[0].answer, "3");
    EXPECT_EQ(r.agents[0].spawns[0].error, ToolError::BadArguments);
    EXPECT_NE(generated_text(r.agents[0]).find("<|agent_result|>error: bad_arguments: spawn takes"), std::string::npos);
  }
  {
    SpawnLimits off;
    off.enabled = false;
    Harness h(off);
    const auto r = run(h, spawning(R"({"tasks":["23*41"]})", 1, "3"));
    ASSERT_EQ(r.agents.size(), 1u);
    EXPECT_NE(r.agents[0].spawns[0].results[0].find("spawning is off"), std::string::npos);
  }
  {
    SpawnLimits quick;
    quick.max_seconds = 1e-6;  // spent before the first step ends
    Harness h(quick);
    const auto r = run(h, spawning(R"({"tasks":["23*41"]})", 1, "3"));
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.agents[0].finish_reason, FinishReason::Cancelled);
  }
}

TEST_F(Spawn, AnObserverThatThrowsLeavesNoAgentRunning) {
  Harness h(SpawnLimits{});
  h.tree.configure_child = [](RequestParams& p, const AgentNode&) {
    p.constraint = script({tok().special(Special::ThinkEnd)});
  };
  const std::vector<Segment> segments = {text_segment("What is 2+2?")};
  RequestParams params;
  params.sampling.max_tokens = 200;
  params.sampling.stop_tokens = {tok().special(Special::EndOfTurn)};
  params.constraint = script(spawning(R"({"tasks":["23*41","57*18"]})", 1, "2"));
  int seen = 0;
  EXPECT_THROW(h.tree.run(segments, Prompt::of(render_prompt(tok(), segments)), params,
                          [&](int agent, const TokenEvent&) {
                            if (agent > 0 && ++seen == 2) throw std::runtime_error("terminal closed");
                          }),
               std::runtime_error);
  EXPECT_TRUE(h.engine.idle());  // every agent cancelled and taken: nothing runs, nothing is parked
}

TEST(SpawnArguments, TasksAreCheckedAgainstTheLimitsAndTheAttachments) {
  SpawnLimits limits;
  limits.max_children = 2;
  limits.max_task_chars = 10;
  ToolContext parent;
  Image white;
  white.width = white.height = 8;
  white.rgb.assign(8 * 8 * 3, 255);
  parent.images.push_back(std::make_shared<const Image>(white));
  const auto ok = parse_spawn_arguments(nlohmann::json::parse(R"({"tasks":["a",{"task":"b","image":0}]})"), parent, limits);
  ASSERT_TRUE(ok.ok()) << ok.message;
  EXPECT_EQ(ok.tasks[1].image, 0);
  EXPECT_EQ(ok.tasks[1].table, -1);
  const std::vector<std::pair<const char*, ToolError>> bad = {
      {R"({})", ToolError::BadArguments},
      {R"({"tasks":[]})", ToolError::BadArguments},
      {R"({"tasks":"a"})", ToolError::BadArguments},
      {R"({"tasks":["a"],"more":1})", ToolError::BadArguments},
      {R"({"tasks":["a","b","c"]})", ToolError::LimitExceeded},
      {R"({"tasks":["0123456789x"]})", ToolError::LimitExceeded},
      {R"({"tasks":[""]})", ToolError::BadArguments},
      {R"({"tasks":[7]})", ToolError::BadArguments},
      {R"({"tasks":[{"task":"a","image":1}]})", ToolError::InvalidInput},
      {R"({"tasks":[{"task":"a","table":0}]})", ToolError::NoAttachment},
      {R"({"tasks":[{"task":"a","colour":"red"}]})", ToolError::BadArguments},
  };
  for (const auto& [json, error] : bad) {
    const auto r = parse_spawn_arguments(nlohmann::json::parse(json), parent, limits);
    EXPECT_EQ(r.error, error) << json << " -> " << r.message;
    EXPECT_FALSE(r.message.empty()) << json;
    EXPECT_TRUE(r.tasks.empty()) << json;
  }
  SpawnLimits broken;
  broken.max_children = 0;
  EXPECT_THROW(broken.validate(), MuseError);
}

}  // namespace
}  // namespace muse

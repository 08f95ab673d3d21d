#include "agents/tool_session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <filesystem>

#include "tokenizer/chat_format.h"
#include "tokenizer/tool_format.h"
#include "tools/trace_tools.h"
#include "util/error.h"

namespace muse {
namespace {

std::string test_dir() { return ::testing::TempDir() + "muse_tool_session_test_" + std::to_string(::getpid()); }

class ToolSession : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::filesystem::create_directories(test_dir());
    TokenizerTrainParams params;
    params.vocab_size = 420;
    train_tokenizer({"calculator {\"expression\":\"2^64+1\"} zoom {\"bbox_2d\":[1,2,3,4],\"unit\":\"patch\"}",
                     "What number is written? 0123456789"},
                    params, test_dir() + "/tokenizer.model");
    tok_ = new Tokenizer(Tokenizer::load(test_dir() + "/tokenizer.model"));
    std::filesystem::remove_all(test_dir());
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static const Tokenizer& tok() { return *tok_; }

  // Events as the engine would stream them for a call the model writes: <|tool_call|> body <|/tool_call|>.
  static std::optional<Prompt> write_call(ToolRunner& runner, const std::string& body, bool close = true) {
    TokenEvent e;
    e.token = tok().special(Special::ToolCallBegin);
    runner.on_event(e);
    for (int id : tok().encode(body)) {
      e.token = id;
      runner.on_event(e);
    }
    e.token = tok().special(Special::ToolCallEnd);
    e.parked = close;
    e.finished = !close;
    return runner.on_event(e);
  }

  // A random model over the tokenizer's vocabulary that reads 8 x 8 patches.
  static Transformer random_model() {
    at::set_num_threads(1);
    ModelConfig c = preset_config("tiny");
    c.vocab_size = tok().vocab_size();
    c.n_layers = 1;
    c.max_seq_len = 512;
    c.patch_size = 8;
    c.patch_token_id = tok().special(Special::ImagePatch);
    torch::manual_seed(3);
    Transformer model(c);
    model->eval();
    return model;
  }

 private:
  static inline Tokenizer* tok_ = nullptr;
};

TEST_F(ToolSession, ACallIsParsedRunAndItsResultRenderedForTheEngine) {
  ToolRunner runner(tok(), builtin_tools(), ToolContext{}, ToolUseParams{});
  const auto segment = write_call(runner, "calculator {\"expression\":\"2^64+1\"}");
  ASSERT_TRUE(segment);
  EXPECT_EQ(tok().decode(segment->tokens, true), "<|tool_result|>18446744073709551617<|/tool_result|>");
  EXPECT_EQ(segment->positions.front()[0], 0);  // relative: the engine offsets it
  ASSERT_EQ(runner.calls().size(), 1u);
  EXPECT_TRUE(runner.calls()[0].ok());
  EXPECT_EQ(runner.calls()[0].name, "calculator");
  EXPECT_EQ(runner.calls()[0].result_text, "18446744073709551617");
}

TEST_F(ToolSession, WhatTheModelGetsWrongComesBackAsAnErrorItCanRead) {
  ToolUseParams params;
  params.max_calls = 5;
  ToolRunner runner(tok(), builtin_tools(), ToolContext{}, params);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"calculator {\"expression\": \"1+", "error: bad_arguments: arguments are not valid JSON"},
      {"python {\"code\": \"import os\"}", "error: unknown_tool: no tool \"python\""},
      {"calculator {\"expression\": 12}", "error: bad_arguments:"},
      {"calculator {\"expression\": \"1/0\"}", "error: invalid_input:"},
      {"zoom {\"bbox_2d\": [0, 0, 5, 5]}", "error: no_attachment:"},
      {"calculator {\"expression\": \"1+1\"}", "error: limit_exceeded: this request may make at most 5"},
  };
  for (const auto& [body, says] : cases) {
    const auto segment = write_call(runner, body);
    ASSERT_TRUE(segment) << body;
    const std::string text = tok().decode(segment->tokens, true);
    EXPECT_NE(text.find(says), std::string::npos) << body << " -> " << text;
  }
  // A call whose JSON never closes before the sequence ends: recorded, nothing run.
  ToolRunner open(tok(), builtin_tools(), ToolContext{}, ToolUseParams{});
  TokenEvent e;
  e.token = tok().special(Special::ToolCallBegin);
  open.on_event(e);
  for (int id : tok().encode("calculator {\"expression\": \"99999")) {
    e.token = id;
    open.on_event(e);
  }
  e.finished = true;
  e.finish_reason = FinishReason::Length;
  EXPECT_FALSE(open.on_event(e));
  ASSERT_EQ(open.calls().size(), 1u);
  EXPECT_FALSE(open.calls()[0].closed);
  EXPECT_EQ(open.calls()[0].result_text, "the tool call never closed before the sequence ended");
}

TEST_F(ToolSession, AThousandZoomsInOneRequestStopAtTheLimit) {
  ToolContext context;
  context.images.push_back(std::make_shared<const Image>(make_image(200, 100)));
  ToolUseParams params;
  params.max_calls = 2000;
  ToolRunner runner(tok(), builtin_tools(), context, params);
  int ok = 0, refused = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto r = runner.run_call("zoom {\"bbox_2d\": [0, 0, 50, 50]}");
    (r.ok() ? ok : refused) += 1;
    if (!r.ok()) EXPECT_EQ(r.error, ToolError::LimitExceeded);
  }
  EXPECT_EQ(ok, params.max_zooms);
  EXPECT_EQ(refused, 1000 - params.max_zooms);
}

// On the engine: a call forced into a random model's sequence; the model can only close calls from then on, so
// it keeps making empty ones — each answered with an error, the calls bounded, the sequence ending at its limit.
TEST_F(ToolSession, OnTheEngineResultsAreForcedInAndTheSequenceResumes) {
  Engine engine(random_model(), torch::kCPU, EngineOptions{});
  Image image = make_image(160, 96);
  for (int y = 40; y < 60; ++y)
    for (int x = 20; x < 60; ++x) image.pixel(x, y)[0] = 0;
  const std::vector<Segment> prompt = {image_segment(image), text_segment("What number is written?")};
  RenderOptions render;
  const TokenSequence rendered = render_prompt(tok(), prompt, render);
  ToolUseParams use;
  use.max_calls = 3;
  ToolRunner runner(tok(), builtin_tools(), tool_context_for(prompt, render.vision), use);
  RequestParams params;
  params.sampling.max_tokens = 400;
  params.allowed_tokens = {tok().special(Special::ToolCallEnd)};
  runner.configure(params);
  std::vector<int> call = {tok().special(Special::ToolCallBegin)};
  for (int id : tok().encode("zoom {\"bbox_2d\":[1,2,3,3],\"unit\":\"patch\"}")) call.push_back(id);
  // The call is forced in before the first step (as if the model had written it), then the loop runs.
  auto events = std::make_shared<EventQueue>();
  params.events = events;
  const SeqId id = engine.add(Prompt::of(rendered), params);
  engine.force(id, call);
  for (bool finished = false; !finished;) {
    engine.step();
    while (auto e = events->try_pop()) {
      if (auto segment = runner.on_event(*e)) engine.force(id, std::move(*segment));
      finished = finished || e->finished;
    }
  }
  ToolRun run{engine.wait(id), runner.calls()};
  EXPECT_EQ(run.sequence.finish_reason, FinishReason::Length);
  ASSERT_GE(run.calls.size(), 2u);
  const auto& zoom = run.calls[0];
  ASSERT_TRUE(zoom.ok()) << zoom.result_text;
  EXPECT_EQ(zoom.name, "zoom");
  ASSERT_TRUE(zoom.image);
  // 160 x 96 has an 80 x 48 first view: a cell is 16 original pixels.
  EXPECT_EQ(zoom.details["box"], nlohmann::json({16, 32, 64, 64}));
  // The crop went in as an image segment: patch tokens among the forced tokens.
  const int patch = tok().special(Special::ImagePatch);
  int forced_patches = 0;
  for (size_t i = 0; i < run.sequence.tokens.size(); ++i)
    forced_patches += run.sequence.forced[i] && run.sequence.tokens[i] == patch ? 1 : 0;
  EXPECT_GT(forced_patches, 8);
  for (size_t i = 1; i < run.calls.size(); ++i) EXPECT_FALSE(run.calls[i].ok());
  EXPECT_EQ(run.calls.back().error, ToolError::LimitExceeded);
  EXPECT_TRUE(engine.idle());
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

TEST_F(ToolSession, ToolsOffBansTheCallToken) {
  ToolUseParams off;
  off.enabled = false;
  ToolRunner runner(tok(), builtin_tools(), ToolContext{}, off);
  RequestParams params;
  runner.configure(params);
  EXPECT_TRUE(params.pause_tokens.empty());
  EXPECT_EQ(params.banned_tokens, std::vector<int>{tok().special(Special::ToolCallBegin)});
  EXPECT_TRUE(parse_tools_switch("on", "--tools"));
  EXPECT_FALSE(parse_tools_switch("off", "--tools"));
  EXPECT_THROW(parse_tools_switch("yes", "--tools"), MuseError);
}

}  // namespace
}  // namespace muse

#include "tokenizer/tool_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "data/tasks/read.h"
#include "tools/trace_tools.h"
#include "tools/zoom.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

TEST(ToolFormat, ParsesNameThenJsonAndTheNameArgumentsObject) {
  auto call = parse_tool_call_body("calculator {\"expression\":\"2^10\"}");
  ASSERT_TRUE(call.ok()) << call.error;
  EXPECT_EQ(call.name, "calculator");
  EXPECT_EQ(call.arguments["expression"], "2^10");
  EXPECT_EQ(tool_call_body("calculator", call.arguments), "calculator {\"expression\":\"2^10\"}");
  call = parse_tool_call_body(" {\"name\": \"zoom\", \"arguments\": {\"bbox_2d\": [1, 2, 3, 4]}}");
  ASSERT_TRUE(call.ok()) << call.error;
  EXPECT_EQ(call.name, "zoom");
  EXPECT_EQ(call.arguments["bbox_2d"][3], 4);
  // OpenAI's wire form: arguments as a JSON string.
  call = parse_tool_call_body("{\"name\": \"calculator\", \"arguments\": \"{\\\"expression\\\": \\\"1+1\\\"}\"}");
  ASSERT_TRUE(call.ok()) << call.error;
  EXPECT_EQ(call.arguments["expression"], "1+1");
  // A name alone: no arguments.
  call = parse_tool_call_body("now");
  ASSERT_TRUE(call.ok()) << call.error;
  EXPECT_TRUE(call.arguments.is_object() && call.arguments.empty());
}

TEST(ToolFormat, MalformedBodiesSayWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty tool call"},
      {"calculator {\"expression\": \"1+", "not valid JSON"},
      {"calculator [1, 2]", "must be a JSON object"},
      {"{\"arguments\": {}}", "expected a tool name"},
      {"{\"name\": \"zoom\", \"arguments\": \"{oops\"}", "not valid JSON"},
      {std::string(20000, 'x'), "at most"},
  };
  for (const auto& [body, says] : cases) {
    const auto call = parse_tool_call_body(body);
    EXPECT_FALSE(call.ok()) << body.substr(0, 60);
    EXPECT_NE(call.error.find(says), std::string::npos) << body.substr(0, 60) << " -> " << call.error;
  }
}

std::string test_dir() { return ::testing::TempDir() + "muse_tool_format_test_" + std::to_string(::getpid()); }

TEST(ToolFormat, TracesRenderCallsAsTargetsAndResultsNever) {
  std::filesystem::create_directories(test_dir());
  TokenizerTrainParams params;
  params.vocab_size = 420;
  train_tokenizer({"calculator {\"expression\":\"12345678*9\"} =111111102", "zoom {\"bbox_2d\":[1,2,3,4]}"}, params,
                  test_dir() + "/tokenizer.model");
  const Tokenizer tok = Tokenizer::load(test_dir() + "/tokenizer.model");
  std::filesystem::remove_all(test_dir());

  Rng rng(5);
  Example example = make_task("calc")->generate(rng, 1);
  ASSERT_EQ(example.tool_calls.size(), 1u);
  EXPECT_THROW(render_example(tok, example), MuseError);  // results not filled: a bug, said so
  run_trace_tools(example, VisionParams{});
  ASSERT_TRUE(example.tool_calls[0].filled);
  ASSERT_EQ(example.tool_calls[0].result.size(), 1u);
  EXPECT_EQ(example.tool_calls[0].result[0].text, example.answer);  // the real calculator agrees with the task
  for (bool all : {false, true}) {
    RenderOptions options;
    options.train_on_all_tokens = all;  // pretraining trains every token — but never a tool's result
    const TokenSequence seq = render_example(tok, example, options);
    bool in_result = false;
    int result_tokens = 0, call_tokens_trained = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
      const int t = seq.tokens[i];
      if (t == tok.special(Special::ToolResultBegin)) in_result = true;
      if (in_result) {
        EXPECT_EQ(seq.loss_mask[i], 0) << "result token " << i << " is a loss target";
        ++result_tokens;
      } else if (t == tok.special(Special::ToolCallBegin) || t == tok.special(Special::ToolCallEnd)) {
        call_tokens_trained += seq.loss_mask[i];
      }
      if (t == tok.special(Special::ToolResultEnd)) in_result = false;
    }
    EXPECT_GT(result_tokens, 2);
    EXPECT_EQ(call_tokens_trained, 2);  // the model decides to call, and when the call ends
    const std::string text = tok.decode(seq.tokens, /*show_specials=*/true);
    EXPECT_NE(text.find("<|tool_call|>calculator {\"expression\":\"" + example.meta["a"].dump()), std::string::npos)
        << text;
    EXPECT_NE(text.find("<|tool_result|>" + example.answer + "<|/tool_result|>=" + example.answer), std::string::npos)
        << text;
  }
  // A reply with a call: its reasoning and answer text leave the call and the result out; the body is kept.
  TokenSequence reply;
  append_reasoning(reply, tok, example.reasoning, example.tool_calls, true, VisionParams{});
  reply.append_token(tok.special(Special::ThinkEnd), true);
  reply.append_text(tok, example.answer, true);
  reply.append_token(tok.special(Special::EndOfTurn), true);
  const ParsedReply parsed = parse_reply(tok, reply.tokens);
  EXPECT_EQ(parsed.thinking, "=" + example.answer);
  EXPECT_EQ(parsed.answer, example.answer);
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(parsed.tool_calls[0], tool_call_body("calculator", example.tool_calls[0].arguments));
  EXPECT_EQ(parsed.tool_result_tokens, static_cast<int>(tok.encode(example.answer).size()));
  EXPECT_TRUE(parsed.finished_thinking && parsed.finished);
}

TEST(ToolFormat, SpawnResultsAreAgentResultsAndNeverTargets) {
  std::filesystem::create_directories(test_dir());
  TokenizerTrainParams params;
  params.vocab_size = 400;
  train_tokenizer({"spawn {\"tasks\":[\"23*41\",\"57*18\"]} 0123456789+*=|"}, params, test_dir() + "/tokenizer.model");
  const Tokenizer tok = Tokenizer::load(test_dir() + "/tokenizer.model");
  std::filesystem::remove_all(test_dir());
  Rng rng(1);
  Example example;
  do example = make_task("products")->generate(rng, 1);
  while (example.tool_calls.empty());
  RenderOptions options;
  options.train_on_all_tokens = true;
  const TokenSequence seq = render_example(tok, example, options);
  const std::string text = tok.decode(seq.tokens, true);
  const auto& call = example.tool_calls[0];
  const std::string expected = "<|/tool_call|><|agent_result|>" + call.result[0].text + "<|/agent_result|><|agent_result|>" +
                               call.result[1].text + "<|/agent_result|>";
  EXPECT_NE(text.find(expected), std::string::npos) << text;
  EXPECT_EQ(text.find("<|tool_result|>"), std::string::npos) << text;
  bool inside = false;
  int result_tokens = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    if (seq.tokens[i] == tok.special(Special::AgentResultBegin)) inside = true;
    if (inside) {
      EXPECT_EQ(seq.loss_mask[i], 0) << "agent result token " << i << " is a loss target";
      ++result_tokens;
    }
    if (seq.tokens[i] == tok.special(Special::AgentResultEnd)) inside = false;
  }
  EXPECT_GT(result_tokens, 6);
  TokenSequence reply;
  append_reasoning(reply, tok, example.reasoning, example.tool_calls, true, VisionParams{});
  const ParsedReply parsed = parse_reply(tok, reply.tokens);
  EXPECT_EQ(parsed.thinking.find("<|"), std::string::npos);
  EXPECT_EQ(parsed.thinking, example.reasoning);  // the results are not the model's reasoning
  ASSERT_EQ(parsed.tool_calls.size(), 1u);
  EXPECT_EQ(parsed.tool_calls[0].rfind("spawn ", 0), 0u);
}

TEST(ToolFormat, ReadTracesZoomFromDifficultyTwoAndTheCropCarriesTheDigits) {
  const auto task = make_task("read");
  Rng rng(8);
  for (int d = 1; d <= 3; ++d)
    for (int i = 0; i < 20; ++i) {
      Example e = task->generate(rng, d);
      ASSERT_EQ(e.tool_calls.size(), d >= kZoomFromDifficulty ? 1u : 0u);
      if (e.tool_calls.empty()) continue;
      run_trace_tools(e, VisionParams{});  // throws if the zoom the trace makes fails
      const auto& call = e.tool_calls[0];
      ASSERT_EQ(call.result.size(), 1u);
      ASSERT_EQ(call.result[0].kind, SegmentKind::Image);
      // The zoom's box holds the whole text box.
      const auto box = call.arguments["bbox_2d"];
      const auto px = e.meta["bbox"];
      const auto cells = e.meta["view_cells"];  // row0, col0, row1, col1
      EXPECT_EQ(box, nlohmann::json({cells[1], cells[0], cells[3], cells[2]}));
      EXPECT_EQ(e.reasoning.substr(call.at, 1), ":");
      const auto region = patch_cells_to_pixels(e.meta["width"], e.meta["height"], VisionParams{}, box[0], box[1],
                                                box[2], box[3]);
      EXPECT_LE(region[0], px[0].get<double>());
      EXPECT_LE(region[1], px[1].get<double>());
      EXPECT_GE(region[2], px[2].get<double>() - 1);
      EXPECT_GE(region[3], px[3].get<double>() - 1);
    }
}

}  // namespace
}  // namespace muse

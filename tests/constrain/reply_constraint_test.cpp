#include "constrain/reply_constraint.h"

#include <gtest/gtest.h>

#include <random>

namespace muse::constrain {
namespace {
using nlohmann::json;

const Tokenizer& shipped_tokenizer() {
  static const Tokenizer tok = Tokenizer::load(std::string(MUSE_SOURCE_DIR) + "/models/default/tokenizer.model");
  return tok;
}

std::shared_ptr<const JsonSchema> schema_of(const std::string& text) {
  return std::make_shared<const JsonSchema>(JsonSchema::compile(json::parse(text)));
}

std::shared_ptr<const ReplyRules> weather_rules(CallChoice call, std::string named = "",
                                                std::shared_ptr<const JsonSchema> answer = nullptr) {
  auto rules = std::make_shared<ReplyRules>();
  rules->functions.push_back({"get_weather", schema_of(R"({"type":"object","properties":{"city":{"type":"string",
      "maxLength":12},"unit":{"enum":["c","f"]}},"required":["city"]})")});
  rules->functions.push_back({"get_time", schema_of(R"({"type":"object","properties":{"zone":{"type":"integer"}},
      "required":["zone"]})")});
  rules->call = call;
  rules->named = std::move(named);
  rules->answer = std::move(answer);
  return rules;
}

// Decodes as the engine would with a model of random logits: forced tokens as told, restricted ones drawn
// among the allowed, free ones among `free_tokens` (a thought's tokens, then whatever comes).
struct Walk {
  std::vector<int> tokens;
  std::vector<bool> forced;
  int restricted_steps = 0;
};
Walk walk(ReplyConstraint& c, const std::vector<int>& free_tokens, std::mt19937& rng, int steps = 200) {
  Walk w;
  std::vector<uint8_t> allowed;
  size_t next_free = 0;
  for (int step = 0; step < steps && c.phase() != ReplyConstraint::Phase::Done; ++step) {
    const auto next = c.next(allowed);
    int token;
    if (next.forced >= 0) {
      token = next.forced;
    } else if (next.restricted) {
      std::vector<int> ok;
      for (size_t i = 0; i < allowed.size(); ++i)
        if (allowed[i]) ok.push_back(static_cast<int>(i));
      EXPECT_FALSE(ok.empty());
      // Short tokens first, as a model would mostly write: the walk ends sooner.
      token = ok[rng() % ok.size()];
      ++w.restricted_steps;
    } else {
      if (next_free >= free_tokens.size()) break;
      token = free_tokens[next_free++];
    }
    w.tokens.push_back(token);
    w.forced.push_back(next.forced >= 0);
    c.append(token);
  }
  return w;
}

// The text between two tokens (exclusive), decoded.
std::string between(const Tokenizer& tok, const std::vector<int>& tokens, int open, int close) {
  std::vector<int> inside;
  bool in = false;
  for (int t : tokens) {
    if (t == open && !in) {
      in = true;
      continue;
    }
    if (t == close && in) break;
    if (in) inside.push_back(t);
  }
  return tok.decode(inside);
}

TEST(TokenBytes, TokensWriteExactlyWhatTheTokenizerDecodes) {
  const auto& tok = shipped_tokenizer();
  const auto vocab = TokenBytes::of(tok);
  ASSERT_EQ(vocab->bytes.size(), static_cast<size_t>(tok.vocab_size()));
  for (const std::string text : {std::string("What is 347 + 589? {\"a\": [1, 2]}"), std::string("caf\xc3\xa9 \t\n\\ ~")}) {
    std::string joined;
    for (int id : tok.encode(text)) joined += vocab->bytes[static_cast<size_t>(id)];
    EXPECT_EQ(joined, text);
  }
  EXPECT_TRUE(vocab->special[static_cast<size_t>(tok.special(Special::ThinkEnd))]);
  EXPECT_TRUE(vocab->bytes[static_cast<size_t>(tok.special(Special::ThinkEnd))].empty());
}

TEST(ReplyConstraint, AJsonAnswerFollowsItsSchemaAfterFreeThinking) {
  const auto& tok = shipped_tokenizer();
  const auto vocab = TokenBytes::of(tok);
  auto rules = std::make_shared<ReplyRules>();
  rules->answer = schema_of(R"({"type":"object","properties":{"answer":{"type":"integer"},"why":{"type":"string",
      "maxLength":10}},"required":["answer","why"]})");
  std::mt19937 rng(3);
  int parsed = 0;
  for (int trial = 0; trial < 20; ++trial) {
    ReplyConstraint c(vocab, ReplyTokens::of(tok), rules);
    std::vector<int> free = tok.encode("3+4=7 so the answer is 7");
    free.push_back(tok.special(Special::ThinkEnd));
    std::vector<uint8_t> allowed;
    EXPECT_LT(c.next(allowed).forced, 0);
    EXPECT_FALSE(c.next(allowed).restricted) << "the thinking is free";
    const Walk w = walk(c, free, rng, 400);
    ASSERT_EQ(c.phase(), ReplyConstraint::Phase::Done) << tok.decode(w.tokens, true);
    EXPECT_TRUE(w.forced.back()) << "<|end|> is forced once the object closes";
    EXPECT_EQ(w.tokens.back(), tok.special(Special::EndOfTurn));
    const std::string answer = between(tok, w.tokens, tok.special(Special::ThinkEnd), tok.special(Special::EndOfTurn));
    json v;
    ASSERT_NO_THROW(v = json::parse(answer)) << answer;
    EXPECT_TRUE(v["answer"].is_number_integer()) << answer;
    EXPECT_TRUE(v["why"].is_string()) << answer;
    EXPECT_EQ(v.size(), 2u) << answer;
    ++parsed;
  }
  EXPECT_EQ(parsed, 20);
}

TEST(ReplyConstraint, ARequiredCallOpensTheReplyWithOneOfTheFunctionsAndSchemaArguments) {
  const auto& tok = shipped_tokenizer();
  const auto vocab = TokenBytes::of(tok);
  std::mt19937 rng(5);
  std::set<std::string> names;
  for (int trial = 0; trial < 30; ++trial) {
    ReplyConstraint c(vocab, ReplyTokens::of(tok), weather_rules(CallChoice::Required));
    const Walk w = walk(c, {}, rng, 300);
    ASSERT_GE(w.tokens.size(), 3u);
    EXPECT_EQ(w.tokens.front(), tok.special(Special::ToolCallBegin));
    EXPECT_TRUE(w.forced.front());
    ASSERT_EQ(w.tokens.back(), tok.special(Special::ToolCallEnd)) << tok.decode(w.tokens, true);
    EXPECT_TRUE(w.forced.back());
    EXPECT_EQ(c.phase(), ReplyConstraint::Phase::Thinking) << "after the call the reply goes on freely";
    const std::string body = between(tok, w.tokens, tok.special(Special::ToolCallBegin), tok.special(Special::ToolCallEnd));
    const size_t space = body.find(' ');
    ASSERT_NE(space, std::string::npos) << body;
    const std::string name = body.substr(0, space);
    names.insert(name);
    json args;
    ASSERT_NO_THROW(args = json::parse(body.substr(space + 1))) << body;
    if (name == "get_weather") {
      EXPECT_TRUE(args["city"].is_string()) << body;
      if (args.contains("unit")) EXPECT_TRUE(args["unit"] == "c" || args["unit"] == "f") << body;
    } else {
      EXPECT_EQ(name, "get_time");
      EXPECT_TRUE(args["zone"].is_number_integer()) << body;
    }
  }
  EXPECT_EQ(names.size(), 2u) << "either function may be chosen";
}

TEST(ReplyConstraint, ANamedCallWritesThatFunction) {
  const auto& tok = shipped_tokenizer();
  const auto vocab = TokenBytes::of(tok);
  std::mt19937 rng(9);
  for (int trial = 0; trial < 10; ++trial) {
    ReplyConstraint c(vocab, ReplyTokens::of(tok), weather_rules(CallChoice::Named, "get_time"));
    const Walk w = walk(c, {}, rng, 200);
    const std::string body = between(tok, w.tokens, tok.special(Special::ToolCallBegin), tok.special(Special::ToolCallEnd));
    ASSERT_EQ(body.rfind("get_time {", 0), 0u) << body;
    EXPECT_TRUE(json::parse(body.substr(9))["zone"].is_number_integer()) << body;
  }
}

TEST(ReplyConstraint, TheModelsOwnCallToAClientFunctionGetsSchemaArgumentsABuiltinCallStaysFree) {
  const auto& tok = shipped_tokenizer();
  const auto vocab = TokenBytes::of(tok);
  std::vector<uint8_t> allowed;
  ReplyConstraint c(vocab, ReplyTokens::of(tok), weather_rules(CallChoice::Free));
  EXPECT_LT(c.next(allowed).forced, 0) << "auto: nothing is forced";
  for (int t : tok.encode("I should look it up")) c.append(t);
  c.append(tok.special(Special::ToolCallBegin));
  EXPECT_FALSE(c.next(allowed).restricted) << "the model names the tool freely";
  for (int t : tok.encode("get_weather ")) c.append(t);
  EXPECT_EQ(c.phase(), ReplyConstraint::Phase::CallArgs);
  ASSERT_TRUE(c.next(allowed).restricted);
  const int brace = tok.encode("{")[0];
  EXPECT_TRUE(allowed[static_cast<size_t>(brace)]);
  EXPECT_FALSE(allowed[static_cast<size_t>(tok.encode("x")[0])]);
  EXPECT_FALSE(allowed[static_cast<size_t>(tok.special(Special::ToolCallEnd))]) << "the call cannot close early";
  // A copy (a fork) goes its own way.
  ReplyConstraint fork = c;
  for (int t : tok.encode("{\"city\":\"Oslo\"}")) fork.append(t);
  EXPECT_EQ(fork.next(allowed).forced, tok.special(Special::ToolCallEnd));
  EXPECT_TRUE(c.next(allowed).restricted);
  EXPECT_TRUE(allowed[static_cast<size_t>(brace)]) << "the original still waits for the object";

  // A model that wants to close the call is steered to the character that closes the arguments.
  ReplyConstraint almost = c;
  for (int t : tok.encode("{\"city\":\"Oslo")) almost.append(t);
  const auto steer = almost.next(allowed);
  ASSERT_TRUE(steer.restricted);
  EXPECT_EQ(steer.steer_from, tok.special(Special::ToolCallEnd));
  ASSERT_GE(steer.steer_to, 0);
  EXPECT_EQ(vocab->bytes[static_cast<size_t>(steer.steer_to)], "\"");

  ReplyConstraint builtin(vocab, ReplyTokens::of(tok), weather_rules(CallChoice::Free));
  builtin.append(tok.special(Special::ToolCallBegin));
  for (int t : tok.encode("calculator ")) builtin.append(t);
  EXPECT_EQ(builtin.phase(), ReplyConstraint::Phase::CallFree);
  const auto next = builtin.next(allowed);
  EXPECT_FALSE(next.restricted);
  EXPECT_LT(next.forced, 0);
}

}  // namespace
}  // namespace muse::constrain

#include "tokenizer/chat_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "data/task.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

std::string test_dir() { return ::testing::TempDir() + "muse_chat_format_test_" + std::to_string(::getpid()); }

// One small tokenizer shared by every test in this file (training takes a moment).
class ChatFormat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> corpus;
    Rng rng(3);
    auto task = make_task("add");
    for (int i = 0; i < 200; ++i) {
      const Example e = task->generate(rng, task->min_difficulty());
      corpus.push_back(segments_text(e.prompt) + "\n" + e.reasoning + "\n" + e.answer);
    }
    corpus.push_back("You are Muse. Think step by step. The answer is below.");
    std::filesystem::create_directories(test_dir());
    TokenizerTrainParams params;
    params.vocab_size = 400;
    train_tokenizer(corpus, params, test_dir() + "/tokenizer.model");
    tok_ = new Tokenizer(Tokenizer::load(test_dir() + "/tokenizer.model"));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
    std::filesystem::remove_all(test_dir());
  }

  const Tokenizer& tok() const { return *tok_; }
  int sp(Special s) const { return tok().special(s); }
  std::vector<int> enc(const std::string& text) const { return tok().encode(text); }

  // Concatenates token groups: cat({a}, enc("x"), {b}).
  static std::vector<int> cat(std::initializer_list<std::vector<int>> parts) {
    std::vector<int> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  }
  static std::vector<uint8_t> mask(std::initializer_list<std::pair<size_t, uint8_t>> runs) {
    std::vector<uint8_t> out;
    for (const auto& [n, v] : runs) out.insert(out.end(), n, v);
    return out;
  }

  static Example example() {
    Example e;
    e.task = "add";
    e.prompt = {text_segment("12+34")};
    e.reasoning = "2+4=6, 1+3=4";
    e.answer = "46";
    return e;
  }

  static Tokenizer* tok_;
};
Tokenizer* ChatFormat::tok_ = nullptr;

void expect_positions_consecutive(const TokenSequence& seq) {
  ASSERT_EQ(seq.positions.size(), seq.tokens.size());
  ASSERT_EQ(seq.loss_mask.size(), seq.tokens.size());
  for (size_t i = 0; i < seq.size(); ++i) {
    const int32_t t = static_cast<int32_t>(i);
    EXPECT_EQ(seq.positions[i], (std::array<int32_t, 3>{t, t, t})) << "token " << i;
  }
}

TEST_F(ChatFormat, ExampleLayout) {
  const auto seq = render_example(tok(), example());
  const auto prompt = enc("12+34"), reasoning = enc("2+4=6, 1+3=4"), answer = enc("46");
  const auto expected = cat({{tok().bos(), sp(Special::User)}, prompt,
                             {sp(Special::EndOfTurn), sp(Special::Assistant), sp(Special::ThinkBegin)}, reasoning,
                             {sp(Special::ThinkEnd)}, answer, {sp(Special::EndOfTurn)}});
  EXPECT_EQ(seq.tokens, expected);
  EXPECT_EQ(tok().decode(seq.tokens, true),
            "<s><|user|>12+34<|end|><|assistant|><|think|>2+4=6, 1+3=4<|/think|>46<|end|>");
  expect_positions_consecutive(seq);
}

TEST_F(ChatFormat, SftMaskCoversOnlyTheAssistantsReply) {
  const auto seq = render_example(tok(), example());
  const size_t p = enc("12+34").size(), r = enc("2+4=6, 1+3=4").size(), a = enc("46").size();
  // Not trained: bos, <|user|>, prompt, <|end|>, <|assistant|>, <|think|> (the harness supplies those).
  // Trained: reasoning, <|/think|>, answer, <|end|> (the model must learn to close its turn).
  EXPECT_EQ(seq.loss_mask, mask({{2 + p + 3, 0}, {r + 1 + a + 1, 1}}));
  int trained = 0;
  for (auto m : seq.loss_mask) trained += m;
  EXPECT_EQ(trained, static_cast<int>(r + a + 2));
}

TEST_F(ChatFormat, TrainOnAllTokensMarksEverythingAfterBos) {
  RenderOptions options;
  options.train_on_all_tokens = true;
  const auto seq = render_example(tok(), example(), options);
  EXPECT_EQ(seq.tokens, render_example(tok(), example()).tokens);  // same tokens, only the mask differs
  ASSERT_FALSE(seq.loss_mask.empty());
  EXPECT_EQ(seq.loss_mask, mask({{1, 0}, {seq.size() - 1, 1}}));
  expect_positions_consecutive(seq);
}

TEST_F(ChatFormat, DroppingThinkingKeepsAnEmptySpan) {
  RenderOptions options;
  options.keep_thinking = false;
  const auto seq = render_example(tok(), example(), options);
  const auto prompt = enc("12+34"), answer = enc("46");
  EXPECT_EQ(seq.tokens, cat({{tok().bos(), sp(Special::User)}, prompt,
                             {sp(Special::EndOfTurn), sp(Special::Assistant), sp(Special::ThinkBegin),
                              sp(Special::ThinkEnd)},
                             answer, {sp(Special::EndOfTurn)}}));
  EXPECT_EQ(seq.loss_mask, mask({{2 + prompt.size() + 3, 0}, {1 + answer.size() + 1, 1}}));
  expect_positions_consecutive(seq);
}

TEST_F(ChatFormat, PromptEndsWithAssistantThinkHeader) {
  const auto seq = render_prompt(tok(), {text_segment("12+34")});
  EXPECT_EQ(seq.tokens, cat({{tok().bos(), sp(Special::User)}, enc("12+34"),
                             {sp(Special::EndOfTurn), sp(Special::Assistant), sp(Special::ThinkBegin)}}));
  for (auto m : seq.loss_mask) EXPECT_EQ(m, 0);
  expect_positions_consecutive(seq);
  // The prompt is a prefix of the full example: generation continues exactly where training's reasoning starts.
  const auto full = render_example(tok(), example());
  ASSERT_LT(seq.size(), full.size());
  EXPECT_TRUE(std::equal(seq.tokens.begin(), seq.tokens.end(), full.tokens.begin()));
}

TEST_F(ChatFormat, PromptSegmentsAreConcatenated) {
  const auto seq = render_prompt(tok(), {text_segment("12"), text_segment("+34")});
  EXPECT_EQ(tok().decode(seq.tokens, true), "<s><|user|>12+34<|end|><|assistant|><|think|>");
}

TEST_F(ChatFormat, MultiTurnConversation) {
  std::vector<Message> messages(4);
  messages[0].role = Role::System;
  messages[0].content = {text_segment("You are Muse.")};
  messages[1].role = Role::User;
  messages[1].content = {text_segment("1+1")};
  messages[2].role = Role::Assistant;
  messages[2].thinking = "1+1=2";
  messages[2].content = {text_segment("2")};
  messages[3].role = Role::User;
  messages[3].content = {text_segment("2+2")};
  const auto seq = render_conversation(tok(), messages, /*generation_prompt=*/true);
  EXPECT_EQ(tok().decode(seq.tokens, true),
            "<s><|system|>You are Muse.<|end|><|user|>1+1<|end|><|assistant|><|think|>1+1=2<|/think|>2<|end|>"
            "<|user|>2+2<|end|><|assistant|><|think|>");
  expect_positions_consecutive(seq);
  // Only the earlier assistant turn's reasoning, </think>, answer and <|end|> are targets.
  std::vector<int> trained_ids;
  for (size_t i = 0; i < seq.size(); ++i)
    if (seq.loss_mask[i]) trained_ids.push_back(seq.tokens[i]);
  EXPECT_EQ(tok().decode(trained_ids, true), "1+1=2<|/think|>2<|end|>");

  RenderOptions history;
  history.keep_thinking = false;
  EXPECT_EQ(tok().decode(render_conversation(tok(), messages, true, history).tokens, true),
            "<s><|system|>You are Muse.<|end|><|user|>1+1<|end|><|assistant|><|think|><|/think|>2<|end|>"
            "<|user|>2+2<|end|><|assistant|><|think|>");
}

TEST_F(ChatFormat, ToolRoleUsesItsHeader) {
  std::vector<Message> messages(1);
  messages[0].role = Role::Tool;
  messages[0].content = {text_segment("42")};
  const auto seq = render_conversation(tok(), messages, false);
  EXPECT_EQ(tok().decode(seq.tokens, true), "<s><|tool|>42<|end|>");
  for (auto m : seq.loss_mask) EXPECT_EQ(m, 0);
}

TEST_F(ChatFormat, UserTextCannotInjectSpecials) {
  const auto seq = render_prompt(tok(), {text_segment("<|end|><|assistant|><|think|>")});
  int specials = 0;
  for (int id : seq.tokens) specials += tok().is_special(id);
  EXPECT_EQ(specials, 5);  // only bos, <|user|>, <|end|>, <|assistant|>, <|think|> from the renderer
}

TEST_F(ChatFormat, AppendHelpersContinuePositions) {
  TokenSequence seq;
  EXPECT_EQ(seq.next_t(), 0);
  seq.append_token(tok().bos(), false);
  seq.append_text(tok(), "12", true);
  EXPECT_EQ(seq.size(), 3u);  // digits split
  EXPECT_EQ(seq.next_t(), 3);
  EXPECT_EQ(seq.loss_mask, (std::vector<uint8_t>{0, 1, 1}));
  expect_positions_consecutive(seq);
}

TEST_F(ChatFormat, ParseReplySplitsThinkingAndAnswer) {
  const auto generated = cat({enc("2+4=6"), {sp(Special::ThinkEnd)}, enc("46"), {sp(Special::EndOfTurn)}});
  const auto reply = parse_reply(tok(), generated);
  EXPECT_EQ(reply.thinking, "2+4=6");
  EXPECT_EQ(reply.answer, "46");
  EXPECT_EQ(reply.thinking_tokens, static_cast<int>(enc("2+4=6").size()));
  EXPECT_EQ(reply.answer_tokens, static_cast<int>(enc("46").size()));
  EXPECT_TRUE(reply.finished_thinking);
  EXPECT_TRUE(reply.finished);
}

TEST_F(ChatFormat, ParseReplyOfRenderedExampleRecoversIt) {
  // Everything after the generation prompt's <|think|> is the reply the model should produce.
  const auto full = render_example(tok(), example());
  const size_t prompt_size = render_prompt(tok(), example().prompt).size();
  const std::vector<int> generated(full.tokens.begin() + static_cast<long>(prompt_size), full.tokens.end());
  const auto reply = parse_reply(tok(), generated);
  EXPECT_EQ(reply.thinking, example().reasoning);
  EXPECT_EQ(reply.answer, example().answer);
  EXPECT_TRUE(reply.finished_thinking);
  EXPECT_TRUE(reply.finished);
}

TEST_F(ChatFormat, ParseReplyWithoutThinkEndIsAllThinking) {
  const auto reply = parse_reply(tok(), cat({enc("still 4 thinking"), {sp(Special::EndOfTurn)}}));
  EXPECT_EQ(reply.thinking, "still 4 thinking");
  EXPECT_EQ(reply.answer, "");
  EXPECT_FALSE(reply.finished_thinking);
  EXPECT_TRUE(reply.finished);
}

TEST_F(ChatFormat, ParseReplyCutOffMidAnswer) {
  // max_tokens ran out: no <|end|>.
  const auto reply = parse_reply(tok(), cat({enc("ok"), {sp(Special::ThinkEnd)}, enc("4")}));
  EXPECT_EQ(reply.thinking, "ok");
  EXPECT_EQ(reply.answer, "4");
  EXPECT_TRUE(reply.finished_thinking);
  EXPECT_FALSE(reply.finished);

  const auto empty = parse_reply(tok(), {});
  EXPECT_EQ(empty.thinking, "");
  EXPECT_EQ(empty.answer, "");
  EXPECT_FALSE(empty.finished_thinking);
  EXPECT_FALSE(empty.finished);
}

TEST_F(ChatFormat, ParseReplyStopsAtEndOrEos) {
  // Tokens after the first <|end|> (or </s>) are not part of the reply.
  auto reply = parse_reply(tok(), cat({enc("a"), {sp(Special::ThinkEnd)}, enc("1"), {sp(Special::EndOfTurn)},
                                       enc("junk"), {sp(Special::ThinkEnd)}, enc("9")}));
  EXPECT_EQ(reply.answer, "1");
  EXPECT_TRUE(reply.finished);
  reply = parse_reply(tok(), cat({enc("a"), {sp(Special::ThinkEnd)}, enc("1"), {tok().eos()}, enc("junk")}));
  EXPECT_EQ(reply.answer, "1");
  EXPECT_TRUE(reply.finished);
  // eos before </think> also ends the reply.
  reply = parse_reply(tok(), cat({enc("a"), {tok().eos()}, {sp(Special::ThinkEnd)}, enc("1")}));
  EXPECT_EQ(reply.thinking, "a");
  EXPECT_FALSE(reply.finished_thinking);
  EXPECT_TRUE(reply.finished);
}

TEST_F(ChatFormat, ParseReplyOnlyFirstThinkEndSplits) {
  const auto reply =
      parse_reply(tok(), cat({enc("x"), {sp(Special::ThinkEnd)}, enc("1"), {sp(Special::ThinkEnd)}, enc("2")}));
  EXPECT_EQ(reply.thinking, "x");
  EXPECT_EQ(reply.answer, "12");  // a second </think> is not text and not a new split
}

TEST(ChatRole, ParsesNamesAndRoundTrips) {
  for (Role role : {Role::System, Role::User, Role::Assistant, Role::Tool})
    EXPECT_EQ(parse_role(role_name(role)), role);
  EXPECT_STREQ(role_name(Role::Assistant), "assistant");
}

TEST(ChatRole, UnknownNamesThrowNamingTheRole) {
  for (const std::string bad : {"", "User", "bot", "assistant ", "system\n"}) {
    try {
      parse_role(bad);
      ADD_FAILURE() << "no MuseError for '" << bad << "'";
    } catch (const MuseError& e) {
      EXPECT_NE(std::string(e.what()).find("\"" + bad + "\""), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace muse

// ---- Images and tables ----------------------------------------------------------------------------------------

namespace muse {
namespace {

// A 24 x 16 image whose pixel bytes encode their coordinates, so each patch's floats are checkable.
Image coordinate_image() {
  Image image;
  image.width = 24;
  image.height = 16;
  image.rgb.resize(24 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x) {
      uint8_t* p = image.pixel(x, y);
      p[0] = static_cast<uint8_t>(x * 10);
      p[1] = static_cast<uint8_t>(y * 10);
      p[2] = 7;
    }
  return image;
}

TEST_F(ChatFormat, ImagePatchesCarryRowAndColumnPositions) {
  TokenSequence seq;
  seq.append_token(tok().bos(), false);  // t = 0
  const PatchGrid grid = patchify(coordinate_image(), VisionParams{8, 64});
  ASSERT_EQ(grid.rows, 2);
  ASSERT_EQ(grid.cols, 3);
  seq.append_image(tok(), grid);
  seq.append_text(tok(), "1", false);

  // <s> <|image|> (3 patches + row end) x 2 <|/image|> "1"
  ASSERT_EQ(seq.size(), 1u + 1 + 2 * 4 + 1 + enc("1").size());
  EXPECT_EQ(seq.tokens[1], sp(Special::ImageBegin));
  EXPECT_EQ(seq.positions[1], (std::array<int32_t, 3>{1, 1, 1}));
  const int32_t t = 2;  // every patch shares t; row and col offset from it
  for (int row = 0; row < 2; ++row) {
    for (int col = 0; col < 3; ++col) {
      const size_t i = 2 + static_cast<size_t>(row) * 4 + static_cast<size_t>(col);
      EXPECT_EQ(seq.tokens[i], sp(Special::ImagePatch));
      EXPECT_EQ(seq.positions[i], (std::array<int32_t, 3>{t, t + row, t + col})) << row << "," << col;
    }
    const size_t end = 2 + static_cast<size_t>(row) * 4 + 3;
    EXPECT_EQ(seq.tokens[end], sp(Special::ImageRowEnd));
    EXPECT_EQ(seq.positions[end], (std::array<int32_t, 3>{t, t + row, t + 3}));
  }
  // Text resumes past the image's largest coordinate: t + max(rows, cols + 1) = 2 + 4.
  EXPECT_EQ(seq.tokens[10], sp(Special::ImageEnd));
  EXPECT_EQ(seq.positions[10], (std::array<int32_t, 3>{6, 6, 6}));
  EXPECT_EQ(seq.positions[11], (std::array<int32_t, 3>{7, 7, 7}));
  // Nothing about the image is a training target.
  for (size_t i = 0; i < 11; ++i) EXPECT_EQ(seq.loss_mask[i], 0) << i;

  // The patch floats travel with the sequence in raster order: patch (1, 2)'s first pixel is (x 16, y 8).
  ASSERT_EQ(seq.patch_count(), 6u);
  ASSERT_EQ(seq.patch_dim, 8 * 8 * 3);
  const float* patch = &seq.patches[5 * static_cast<size_t>(seq.patch_dim)];
  EXPECT_FLOAT_EQ(patch[0], 160 / 127.5f - 1);
  EXPECT_FLOAT_EQ(patch[1], 80 / 127.5f - 1);
  EXPECT_FLOAT_EQ(patch[2], 7 / 127.5f - 1);
}

TEST_F(ChatFormat, TableCellsShareTheirColumnCoordinate) {
  Table table;
  table.header = {"k", "v"};
  table.rows = {{"12", "3"}, {"4", "56"}};
  TokenSequence seq;
  seq.append_token(tok().bos(), false);
  seq.append_table(tok(), table, true);
  EXPECT_EQ(seq.tokens[1], sp(Special::TableBegin));
  const int32_t base = 2;
  // Walk the rows: every token of cell (r, c) carries row base + r and col base + c; t keeps counting.
  size_t i = 2;
  int32_t t = 2;
  const std::vector<std::vector<std::string>> rows = {table.header, table.rows[0], table.rows[1]};
  for (int32_t r = 0; r < 3; ++r) {
    for (int32_t c = 0; c < 2; ++c) {
      EXPECT_EQ(seq.tokens[i], sp(Special::TableCellSep));
      EXPECT_EQ(seq.loss_mask[i], 0);
      for (size_t k = 0; k < 1 + enc(rows[static_cast<size_t>(r)][static_cast<size_t>(c)]).size(); ++k, ++i, ++t)
        EXPECT_EQ(seq.positions[i], (std::array<int32_t, 3>{t, base + r, base + c})) << r << "," << c << "," << k;
    }
    EXPECT_EQ(seq.tokens[i], sp(Special::TableRowEnd));
    EXPECT_EQ(seq.positions[i], (std::array<int32_t, 3>{t, base + r, base + 2}));
    ++i, ++t;
  }
  EXPECT_EQ(seq.tokens[i], sp(Special::TableEnd));
  EXPECT_EQ(seq.positions[i], (std::array<int32_t, 3>{t, t, t}));
  EXPECT_EQ(i + 1, seq.size());
}

TEST_F(ChatFormat, PromptsRenderEveryKindOfSegment) {
  Table table;
  table.header = {"a"};
  table.rows = {{"1"}};
  const auto seq = render_prompt(tok(), {image_segment(coordinate_image()), table_segment(table), text_segment("1+1")});
  int images = 0, tables = 0;
  for (int id : seq.tokens) {
    images += id == sp(Special::ImageBegin);
    tables += id == sp(Special::TableBegin);
  }
  EXPECT_EQ(images, 1);
  EXPECT_EQ(tables, 1);
  EXPECT_EQ(seq.patch_count(), 6u);
  // Positions never go backwards in t outside the image (text after the table continues the count).
  EXPECT_GT(seq.positions.back()[0], seq.positions.front()[0]);
}

}  // namespace
}  // namespace muse

namespace muse {
namespace {

TEST_F(ChatFormat, DressedExamplesTrainOnlyTheFinalReplyAndDropHistoryThinking) {
  Example earlier = example();
  earlier.prompt = {text_segment("1+1")};
  earlier.reasoning = "1+1=2";
  earlier.answer = "2";
  const auto messages = example_conversation(example(), {earlier}, "You are Muse.", true);
  RenderOptions options;
  options.keep_history_thinking = false;
  options.train_final_turn_only = true;
  const auto seq = render_conversation(tok(), messages, false, options);
  EXPECT_EQ(tok().decode(seq.tokens, true),
            "<s><|system|>You are Muse.<|end|><|user|>1+1<|end|><|assistant|><|think|><|/think|>2<|end|>"
            "<|user|>12+34<|end|><|assistant|><|think|>" + example().reasoning + "<|/think|>46<|end|>");
  std::vector<int> trained_ids;
  for (size_t i = 0; i < seq.size(); ++i)
    if (seq.loss_mask[i]) trained_ids.push_back(seq.tokens[i]);
  EXPECT_EQ(tok().decode(trained_ids, true), example().reasoning + "<|/think|>46<|end|>");
  // Without a reply it is a generation prompt for the same chat.
  EXPECT_EQ(example_conversation(example(), {earlier}, "", false).size(), 3u);
}

}  // namespace
}  // namespace muse

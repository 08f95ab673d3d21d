// Pretraining batches: deterministic per step, packed documents never leak into each other, mixture specs
// are validated with clear messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "training/pretrain_data.h"
#include "training/recipe.h"
#include "util/error.h"
#include "util/test_dirs.h"

using namespace muse;

namespace {

const Tokenizer& test_tokenizer() {
  static const Tokenizer tok = [] {
    const auto dir = test::fresh_dir("muse_pretrain_data_tok");
    train_tokenizer_for_mixture("add:1-3,countdown:3", {}, TokenizerTrainParams{400}, 400, 1, dir);
    return Tokenizer::load(dir + "/tokenizer.model");
  }();
  return tok;
}

}  // namespace

TEST(Mixture, ParsesRangesAndWeights) {
  const auto m = parse_mixture("add:1-3:2,countdown:4,sub");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].task, "add");
  EXPECT_EQ(m[0].min_difficulty, 1);
  EXPECT_EQ(m[0].max_difficulty, 3);
  EXPECT_DOUBLE_EQ(m[0].weight, 2.0);
  EXPECT_EQ(m[1].min_difficulty, 4);
  EXPECT_EQ(m[1].max_difficulty, 4);
  EXPECT_EQ(m[2].min_difficulty, 1);
  EXPECT_EQ(mixture_to_string(m), "add:1-3:2,countdown:4-4:1,sub:1-1:1");
}

TEST(Mixture, RejectsBadSpecsNamingTheEntry) {
  for (const std::string bad : {"", "nosuch", "add:0-2", "add:3-1", "add:1-99", "add:x", "add:1:0", "add:1:w",
                                "add:1:2:3"}) {
    try {
      parse_mixture(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const MuseError& e) {
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
}

TEST(PretrainData, BatchIsAPureFunctionOfSeedAndStep) {
  PretrainData data(test_tokenizer(), parse_mixture("add:1-3,countdown:3"), {});
  const auto a = data.batch(7, 12, 0, 4, 48);
  const auto b = data.batch(7, 12, 0, 4, 48);
  const auto c = data.batch(7, 13, 0, 4, 48);
  EXPECT_TRUE(torch::equal(a.tokens, b.tokens));
  EXPECT_TRUE(torch::equal(a.targets, b.targets));
  EXPECT_FALSE(torch::equal(a.tokens, c.tokens));
}

TEST(PretrainData, TargetsStayInsideTheirDocument) {
  const auto& tok = test_tokenizer();
  PretrainData data(tok, parse_mixture("add:1-3"), {});
  const auto b = data.batch(1, 0, 0, 8, 64);
  const auto tokens = b.tokens.accessor<int64_t, 2>();
  const auto targets = b.targets.accessor<int64_t, 2>();
  const auto docs = b.document_ids.accessor<int64_t, 2>();
  const auto pos = b.positions.accessor<int64_t, 3>();
  int64_t trained = 0;
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t t = 0; t < 64; ++t) {
      // Every document starts with <s>, which is never a target, and positions restart at 0 there.
      if (tokens[r][t] == tok.bos()) EXPECT_EQ(pos[r][t][0], 0);
      if (t + 1 < 64 && targets[r][t] >= 0) {
        EXPECT_EQ(targets[r][t], tokens[r][t + 1]);
        EXPECT_EQ(docs[r][t], docs[r][t + 1]);
      }
      EXPECT_NE(targets[r][t], tok.bos());
      EXPECT_EQ(pos[r][t][0], pos[r][t][1]);
      trained += targets[r][t] >= 0;
    }
  EXPECT_EQ(trained, b.target_tokens);
}

TEST(PretrainData, PromptLossOffTrainsOnlyTheReply) {
  const auto& tok = test_tokenizer();
  DataOptions options;
  options.prompt_loss = false;
  PretrainData data(tok, parse_mixture("add:2"), {}, {}, options);
  const auto b = data.batch(3, 0, 0, 4, 64);
  const auto tokens = b.tokens.accessor<int64_t, 2>();
  const auto targets = b.targets.accessor<int64_t, 2>();
  // Within the user turn (after <|user|>, up to <|end|>) nothing is a target.
  for (int64_t r = 0; r < 4; ++r) {
    bool in_user = false;
    for (int64_t t = 0; t < 64; ++t) {
      if (tokens[r][t] == tok.special(Special::User)) in_user = true;
      if (in_user) EXPECT_EQ(targets[r][t], -1) << "row " << r << " t " << t;
      if (tokens[r][t] == tok.special(Special::EndOfTurn)) in_user = false;
    }
  }
  EXPECT_GT(b.target_tokens, 0);
}

TEST(PretrainData, TextEntryNeedsDocuments) {
  EXPECT_THROW(PretrainData(test_tokenizer(), parse_mixture("text"), {}), MuseError);
  PretrainData data(test_tokenizer(), parse_mixture("text"), {"hello world", "more text"});
  EXPECT_GT(data.batch(1, 0, 0, 2, 16).target_tokens, 0);
}

TEST(PretrainData, ImagePatchesTravelWithTheirTokens) {
  // A synthetic image task needs the real tasks; the chart/count tasks may be absent in a partial build, so
  // this test builds its documents from the renderer directly through a one-entry mixture of "count".
  const auto dir = test::fresh_dir("muse_pretrain_data_img_tok");
  train_tokenizer_for_mixture("count:1-2", {}, TokenizerTrainParams{400}, 200, 1, dir);
  const auto tok = Tokenizer::load(dir + "/tokenizer.model");
  DataOptions options;
  options.prompt_loss = false;
  options.vision = VisionParams{8, 64};
  PretrainData data(tok, parse_mixture("count:1-2"), {}, {}, options);
  for (int64_t step = 0; step < 3; ++step) {
    const auto b = data.batch(9, step, 0, 4, 100);  // rows of 100 cut through documents and images
    const int64_t patch_tokens = b.tokens.eq(tok.special(Special::ImagePatch)).sum().item<int64_t>();
    ASSERT_GT(patch_tokens, 0);
    ASSERT_EQ(b.patches.size(0), patch_tokens);
    ASSERT_EQ(b.patches.size(1), 8 * 8 * 3);
    EXPECT_GE(b.patches.min().item<float>(), -1.0f);
    EXPECT_LE(b.patches.max().item<float>(), 1.0f);
    // Patch tokens are context, never targets.
    EXPECT_EQ(b.targets.eq(tok.special(Special::ImagePatch)).sum().item<int64_t>(), 0);
  }
  // Deterministic: the same step gives the same pixels.
  EXPECT_TRUE(at::equal(data.batch(9, 1, 0, 4, 100).patches, data.batch(9, 1, 0, 4, 100).patches));
}

TEST(PretrainData, FineTuningDressesExamplesAsChatsAndTrainsOnlyTheFinalReply) {
  const auto& tok = test_tokenizer();
  DataOptions options;
  options.chat_share = 1.0;
  PretrainData data(tok, parse_mixture("add:2"), {}, {}, options);
  Rng rng(4);
  int with_system = 0, with_history = 0;
  for (int i = 0; i < 60; ++i) {
    const auto doc = data.document(rng);
    const auto text = tok.decode(doc.tokens, true);
    with_system += text.find("<|system|>") != std::string::npos;
    int users = 0;
    for (int id : doc.tokens) users += id == tok.special(Special::User);
    with_history += users > 1;
    // The trained tokens are exactly the final reply: everything after the last <|assistant|><|think|>.
    size_t last_assistant = 0;
    for (size_t k = 0; k < doc.size(); ++k)
      if (doc.tokens[k] == tok.special(Special::Assistant)) last_assistant = k;
    for (size_t k = 0; k < doc.size(); ++k) ASSERT_EQ(doc.loss_mask[k] != 0, k > last_assistant + 1) << text;
    // Earlier replies carry no reasoning: every thinking span but the last is empty.
    size_t pos = 0, spans = 0;
    while ((pos = text.find("<|think|>", pos)) != std::string::npos) {
      ++spans;
      const size_t end = text.find("<|/think|>", pos);
      if (text.find("<|think|>", pos + 1) < end) FAIL() << text;
      if (text.find("<|think|>", end) != std::string::npos) EXPECT_EQ(end, pos + 9) << text;
      pos = end;
    }
    EXPECT_EQ(spans, static_cast<size_t>(users));
  }
  EXPECT_GT(with_system, 20);
  EXPECT_GT(with_history, 20);
}

TEST(PretrainData, BudgetCutsShortenTheReasoningKeepTheAnswerAndForceTheThinkEnd) {
  const auto& tok = test_tokenizer();
  DataOptions whole, cut;
  whole.prompt_loss = cut.prompt_loss = false;
  cut.budget_cut_share = 1.0;
  PretrainData full_data(tok, parse_mixture("add:3"), {}, {}, whole);
  PretrainData cut_data(tok, parse_mixture("add:3"), {}, {}, cut);
  // (thinking, everything from <|/think|> on) of a rendered example.
  auto split = [&](const TokenSequence& doc) {
    const auto text = tok.decode(doc.tokens, true);
    const size_t begin = text.find("<|think|>"), end = text.find("<|/think|>");
    EXPECT_NE(begin, std::string::npos) << text;
    EXPECT_NE(end, std::string::npos) << text;
    return std::make_pair(text.substr(begin + 9, end - begin - 9), text.substr(end));
  };
  // The loss flag of the <|/think|> token: forced by the budget when the reasoning was cut, so no loss there.
  auto think_end_trained = [&](const TokenSequence& doc) {
    for (size_t k = 0; k < doc.size(); ++k)
      if (doc.tokens[k] == tok.special(Special::ThinkEnd)) return doc.loss_mask[k] != 0;
    ADD_FAILURE() << "no <|/think|>";
    return false;
  };
  int shorter = 0, under_half = 0;
  for (int i = 0; i < 80; ++i) {
    Rng a(100 + i), b(100 + i);  // the same seed draws the same problem; the cut is drawn after it
    const auto full_doc = full_data.document(a), cut_doc = cut_data.document(b);
    const auto [full_thinking, full_rest] = split(full_doc);
    const auto [cut_thinking, cut_rest] = split(cut_doc);
    EXPECT_TRUE(think_end_trained(full_doc)) << "a finished trace ends its thinking by choice";
    EXPECT_EQ(think_end_trained(cut_doc), cut_thinking.size() == full_thinking.size()) << cut_thinking;
    EXPECT_EQ(cut_rest, full_rest) << "the answer must not change";
    EXPECT_EQ(full_thinking.compare(0, cut_thinking.size(), cut_thinking), 0) << cut_thinking << " | " << full_thinking;
    shorter += cut_thinking.size() < full_thinking.size();
    under_half += 2 * cut_thinking.size() < full_thinking.size();
  }
  // Cuts are uniform over the trace's characters: nearly all shorter, about half under half the length.
  EXPECT_GT(shorter, 70);
  EXPECT_GT(under_half, 20);
  EXPECT_LT(under_half, 60);
}

TEST(PretrainData, JsonAnswerExamplesAskForJsonAndWrapTheSameAnswer) {
  EXPECT_EQ(json_answer("936"), "{\"answer\": 936}");
  EXPECT_EQ(json_answer("-12"), "{\"answer\": -12}");
  EXPECT_EQ(json_answer("007"), "{\"answer\":\"007\"}") << "a leading zero is not a JSON number";
  EXPECT_EQ(json_answer("3*4+5"), "{\"answer\":\"3*4+5\"}");
  EXPECT_EQ(json_answer("say \"hi\""), "{\"answer\":\"say \\\"hi\\\"\"}");

  const auto& tok = test_tokenizer();
  DataOptions plain, json;
  plain.chat_share = json.chat_share = 1.0;
  json.json_answer_share = 1.0;
  PretrainData plain_data(tok, parse_mixture("add:2"), {}, {}, plain);
  PretrainData json_data(tok, parse_mixture("add:2"), {}, {}, json);
  const auto& json_prompts = json_answer_system_prompts();
  for (int i = 0; i < 30; ++i) {
    Rng a(7 + i), b(7 + i);
    const auto plain_text = tok.decode(plain_data.document(a).tokens, true);
    const auto json_text = tok.decode(json_data.document(b).tokens, true);
    // The final reply: what follows the last <|/think|>.
    auto reply = [](const std::string& text) {
      const size_t end = text.rfind("<|/think|>");
      const size_t stop = text.find("<|end|>", end);
      return text.substr(end + 10, stop - end - 10);
    };
    EXPECT_EQ(reply(json_text), json_answer(reply(plain_text))) << json_text;
    EXPECT_TRUE(std::any_of(json_prompts.begin(), json_prompts.end(),
                            [&](const std::string& p) { return json_text.find(p) != std::string::npos; }))
        << "the system prompt asks for JSON: " << json_text;
  }
}

TEST(PretrainData, UserConversationsAreSplitAndTrainedOnAssistantTurns) {
  const auto& tok = test_tokenizer();
  std::vector<ChatConversation> chats;
  for (int i = 0; i < 200; ++i)
    chats.push_back({{{"user", "q" + std::to_string(i), ""}, {"assistant", "a" + std::to_string(i), "t"}}, ""});
  PretrainData train(tok, parse_mixture("chat"), {}, chats, {});
  DataOptions heldout_options;
  heldout_options.split = Split::Heldout;
  PretrainData heldout(tok, parse_mixture("chat"), {}, chats, heldout_options);
  std::set<std::string> train_texts, heldout_texts;
  Rng rng(1);
  for (int i = 0; i < 300; ++i) {
    train_texts.insert(tok.decode(train.document(rng).tokens, true));
    heldout_texts.insert(tok.decode(heldout.document(rng).tokens, true));
  }
  for (const auto& text : heldout_texts) EXPECT_EQ(train_texts.count(text), 0u) << text;
  EXPECT_GT(heldout_texts.size(), 5u);
  EXPECT_THROW(PretrainData(tok, parse_mixture("chat"), {}, {}, {}), MuseError);
}

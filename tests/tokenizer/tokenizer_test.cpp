#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <unordered_map>

#include "data/task.h"
#include "tokenizer/sentencepiece_backend.h"
#include "util/atomic_file.h"
#include "../util/error_kind_of.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

constexpr int kRequestedVocab = 400;

std::string test_dir() {
  return ::testing::TempDir() + "muse_tokenizer_test_" + std::to_string(::getpid());
}

// A corpus like the real one: task examples plus some prose and non-ASCII text.
std::vector<std::string> small_corpus() {
  std::vector<std::string> corpus;
  Rng rng(11);
  for (const std::string name : {"add", "countdown"}) {
    auto task = make_task(name);
    for (int i = 0; i < 150; ++i) {
      const Example e = task->generate(rng, task->min_difficulty());
      corpus.push_back(segments_text(e.prompt) + "\n" + e.reasoning + "\n" + e.answer);
    }
  }
  for (int i = 0; i < 20; ++i) {
    corpus.push_back("The quick brown fox jumps over the lazy dog. Muse thinks before it answers.");
    corpus.push_back("héllo 世界 🙂 — naïve café, straße, Ελληνικά, русский текст.");
    // Without split_digits BPE would surely merge these frequent digit runs.
    corpus.push_back("12345 12345 12345 907 907 907 18 18 18");
  }
  return corpus;
}

// Training takes a moment: do it once per test binary and share the model file.
class Tokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::filesystem::create_directories(test_dir());
    model_path_ = test_dir() + "/tokenizer.model";
    TokenizerTrainParams params;
    params.vocab_size = kRequestedVocab;
    train_tokenizer(small_corpus(), params, model_path_);
    tok_ = new muse::Tokenizer(muse::Tokenizer::load(model_path_));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
    std::filesystem::remove_all(test_dir());
  }
  const muse::Tokenizer& tok() const { return *tok_; }

  void expect_round_trip(const std::string& text) {
    const auto ids = tok().encode(text);
    EXPECT_EQ(tok().decode(ids), text) << "ids: " << ::testing::PrintToString(ids);
    for (int id : ids) EXPECT_FALSE(tok().is_special(id)) << "plain text produced special/unknown id " << id;
  }

  static std::string model_path_;
  static muse::Tokenizer* tok_;
};
std::string Tokenizer::model_path_;
muse::Tokenizer* Tokenizer::tok_ = nullptr;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "<no MuseError>";
}

// Appends code point `cp` as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

TEST_F(Tokenizer, LoadsWithinRequestedVocab) {
  EXPECT_GT(tok().vocab_size(), 256 + 4 + static_cast<int>(kSpecialNames.size()));
  EXPECT_LE(tok().vocab_size(), kRequestedVocab);
  EXPECT_EQ(tok().bos(), 1);
  EXPECT_EQ(tok().eos(), 2);
  EXPECT_EQ(tok().pad(), 3);
  EXPECT_EQ(tok().piece(1), "<s>");
  EXPECT_EQ(tok().piece(2), "</s>");
  // serialized() is the model file, byte for byte, so a model dir can copy it.
  EXPECT_EQ(tok().serialized(), read_file(model_path_));
}

TEST_F(Tokenizer, EverySpecialHasADistinctControlId) {
  std::set<int> ids;
  for (int i = 0; i < static_cast<int>(Special::Count); ++i) {
    const int id = tok().special(static_cast<Special>(i));
    EXPECT_GE(id, 4) << kSpecialNames[i];  // 0..3 are unk/bos/eos/pad
    EXPECT_LT(id, tok().vocab_size()) << kSpecialNames[i];
    EXPECT_TRUE(tok().is_special(id)) << kSpecialNames[i];
    EXPECT_EQ(tok().piece(id), kSpecialNames[i]);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), kSpecialNames.size());
  // The layout promised in tokenizer.h: specials right after the four fixed ids, in enum order.
  EXPECT_EQ(tok().special(Special::System), 4);
  EXPECT_EQ(tok().special(Special::Continue), 4 + static_cast<int>(Special::Count) - 1);
  EXPECT_TRUE(tok().is_special(tok().bos()));
  EXPECT_TRUE(tok().is_special(tok().eos()));
  EXPECT_TRUE(tok().is_special(tok().pad()));
}

TEST_F(Tokenizer, RoundTripsAscii) {
  expect_round_trip("");
  expect_round_trip("Hello, world!");
  expect_round_trip("47+85=132");
  expect_round_trip("~`!@#$%^&*()_-+={}[]|\\:;\"'<>,.?/");
  expect_round_trip("Zebras quizzically vex jumpy wizards");  // letters rarely seen in the corpus
}

TEST_F(Tokenizer, RoundTripsWhitespaceExactly) {
  // No dummy prefix, no collapsing of spaces: whitespace must survive as written.
  expect_round_trip(" leading space");
  expect_round_trip("trailing space ");
  expect_round_trip("   ");
  expect_round_trip("a  b   c    d");
  expect_round_trip("line one\nline two\n\n\nline five\n");
  expect_round_trip("\ttab\t\tseparated\t");
  expect_round_trip("\r\n windows \r\n");
  expect_round_trip(" \t \n \t ");
  expect_round_trip(std::string("nul\0inside\0", 11));
}

TEST_F(Tokenizer, RoundTripsUtf8) {
  expect_round_trip("héllo 世界 🙂");
  expect_round_trip("naïve café, straße");
  expect_round_trip("日本語のテキストは学習されていない");  // unseen CJK: byte fallback
  expect_round_trip("🙂😀🚀👍🏽👨‍👩‍👧");                            // emoji, skin tone, ZWJ sequences
  expect_round_trip("x\u00a0y\u200bz\u3000w");                  // nbsp, zero-width space, ideographic space
}

TEST_F(Tokenizer, RoundTripsRandomValidUtf8) {
  Rng rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    const int length = static_cast<int>(rng.uniform_int(1, 40));
    for (int i = 0; i < length; ++i) {
      uint32_t cp;
      switch (rng.uniform_int(0, 3)) {
        case 0: cp = static_cast<uint32_t>(rng.uniform_int(1, 0x7F)); break;  // ASCII incl. control chars
        case 1: cp = static_cast<uint32_t>(rng.uniform_int(0x80, 0x7FF)); break;
        case 2: cp = static_cast<uint32_t>(rng.uniform_int(0x800, 0xFFFD)); break;
        default: cp = static_cast<uint32_t>(rng.uniform_int(0x10000, 0x10FFFF)); break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0x41;  // surrogates are not valid UTF-8
      if (cp == 0x2581) cp = 0x42;                  // see LowerOneEighthBlockRoundTrips
      append_utf8(text, cp);
    }
    SCOPED_TRACE("trial " + std::to_string(trial));
    expect_round_trip(text);
  }
}

TEST_F(Tokenizer, LowerOneEighthBlockRoundTrips) {
  // SentencePiece uses U+2581 "▁" internally as its space marker; a user's literal ▁ must not become a space.
  expect_round_trip("a\u2581b");
  expect_round_trip("\u2581");
}

TEST_F(Tokenizer, EncodingIsDeterministicAndConcatenates) {
  const std::string a = "12+34=46", b = " then more";
  EXPECT_EQ(tok().encode(a), tok().encode(a));
  // Decoding pieces encoded separately gives the concatenated text (no dummy prefix inserted per call).
  auto ids = tok().encode(a);
  const auto more = tok().encode(b);
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_EQ(tok().decode(ids), a + b);
}

TEST_F(Tokenizer, SplitsDigitsOnePerToken) {
  const auto ids = tok().encode("12345");
  ASSERT_EQ(ids.size(), 5u);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tok().decode({ids[i]}), std::string(1, "12345"[i]));
  // Digits stay split inside arithmetic too.
  const auto sum = tok().encode("907+18");
  int digits = 0;
  for (int id : sum) {
    const std::string piece = tok().decode({id});
    if (piece.find_first_of("0123456789") != std::string::npos) {
      EXPECT_EQ(piece.size(), 1u) << "multi-digit or digit+other piece '" << piece << "'";
      ++digits;
    }
  }
  EXPECT_EQ(digits, 5);
}

TEST_F(Tokenizer, SpecialNamesInTextAreNotControlTokens) {
  // Users cannot inject "<|think|>" or "<|end|>" through plain text: it encodes as ordinary characters.
  std::set<int> specials;
  for (int i = 0; i < static_cast<int>(Special::Count); ++i) specials.insert(tok().special(static_cast<Special>(i)));
  for (const auto& name : kSpecialNames) {
    const std::string text = "x" + std::string(name) + "y";
    const auto ids = tok().encode(text);
    for (int id : ids) {
      EXPECT_EQ(specials.count(id), 0u) << name;
      EXPECT_FALSE(tok().is_special(id)) << name;
    }
    EXPECT_EQ(tok().decode(ids), text);
  }
  for (const std::string text : {"<s>", "</s>", "<pad>", "<unk>", "<|reserved_0|>"}) {
    for (int id : tok().encode(text)) EXPECT_FALSE(tok().is_special(id)) << text;
    EXPECT_EQ(tok().decode(tok().encode(text)), text);
  }
}

TEST_F(Tokenizer, DecodeShowsOrDropsSpecials) {
  const int think = tok().special(Special::ThinkBegin), think_end = tok().special(Special::ThinkEnd);
  std::vector<int> ids = {tok().bos(), think};
  for (int id : tok().encode("7+8")) ids.push_back(id);
  ids.push_back(think_end);
  for (int id : tok().encode("15")) ids.push_back(id);
  ids.push_back(tok().special(Special::EndOfTurn));
  EXPECT_EQ(tok().decode(ids, /*show_specials=*/true), "<s><|think|>7+8<|/think|>15<|end|>");
  EXPECT_EQ(tok().decode(ids), "7+815");
  EXPECT_EQ(tok().decode(ids, false), "7+815");
}

TEST_F(Tokenizer, DecodeKeepsMultiByteCharactersAcrossSpecials) {
  // Byte-fallback pieces of one character are decoded jointly even when specials surround the text.
  std::vector<int> ids = {tok().special(Special::User)};
  for (int id : tok().encode("世界🙂")) ids.push_back(id);
  ids.push_back(tok().special(Special::EndOfTurn));
  EXPECT_EQ(tok().decode(ids, true), "<|user|>世界🙂<|end|>");
}

TEST_F(Tokenizer, OutOfRangeIdsThrow) {
  const int n = tok().vocab_size();
  EXPECT_THROW(tok().decode({n}), MuseError);
  EXPECT_THROW(tok().decode({-1}), MuseError);
  EXPECT_THROW(tok().decode({5, 1 << 30}), MuseError);
  EXPECT_NE(error_of([&] { tok().decode({n}); }).find(std::to_string(n)), std::string::npos);
  EXPECT_NO_THROW(tok().decode({n - 1}));
}

TEST_F(Tokenizer, LoadingMissingFileNamesThePath) {
  const std::string path = test_dir() + "/no_such_tokenizer.model";
  const std::string message = error_of([&] { muse::Tokenizer::load(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(error_kind_of([&] { muse::Tokenizer::load(path); }), "not_found");
}

TEST_F(Tokenizer, LoadingGarbageNamesThePath) {
  const std::string path = test_dir() + "/garbage.model";
  static const char kGarbage[] = "\xff\xfe not a protobuf \x00\x01\x02 at all";
  write_file_atomic(path, std::string(kGarbage, sizeof kGarbage - 1));
  const std::string message = error_of([&] { muse::Tokenizer::load(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_EQ(error_kind_of([&] { muse::Tokenizer::load(path); }), "invalid_request");  // there, but malformed

  const std::string empty = test_dir() + "/empty.model";
  write_file_atomic(empty, "");
  const std::string empty_message = error_of([&] { muse::Tokenizer::load(empty); });
  EXPECT_EQ(empty_message.rfind(empty + ": ", 0), 0u) << empty_message;
}

TEST_F(Tokenizer, LoadingTruncatedModelNamesThePath) {
  const std::string path = test_dir() + "/truncated.model";
  const std::string bytes = read_file(model_path_);
  write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  const std::string message = error_of([&] { muse::Tokenizer::load(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
}

TEST_F(Tokenizer, LoadingForeignSentencePieceModelNamesThePath) {
  // A valid SentencePiece model trained without Muse's control symbols.
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"}, {"vocab_size", "1000"}, {"hard_vocab_limit", "false"},
      {"byte_fallback", "true"}, {"minloglevel", "2"}, {"num_threads", "1"}};
  std::string serialized;
  const auto error = make_sentencepiece_backend()->train(args, small_corpus(), &serialized);
  ASSERT_EQ(error, "");
  const std::string path = test_dir() + "/foreign.model";
  write_file_atomic(path, serialized);
  const std::string message = error_of([&] { muse::Tokenizer::load(path); });
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_NE(message.find("<|system|>"), std::string::npos) << message;
}

TEST_F(Tokenizer, FromSerializedMatchesLoad) {
  const auto copy = muse::Tokenizer::from_serialized(tok().serialized(), "memory");
  EXPECT_EQ(copy.vocab_size(), tok().vocab_size());
  EXPECT_EQ(copy.encode("héllo 47+85"), tok().encode("héllo 47+85"));
  EXPECT_EQ(error_of([] { muse::Tokenizer::from_serialized("junk", "ORIGIN"); }).rfind("ORIGIN: ", 0), 0u);
}

TEST(TokenizerTrain, RejectsTinyVocab) {
  TokenizerTrainParams params;
  params.vocab_size = 299;
  const std::string path = test_dir() + "_tiny.model";
  EXPECT_THROW(train_tokenizer({"some text 123"}, params, path), MuseError);
  EXPECT_FALSE(std::filesystem::exists(path));
  params.vocab_size = 0;
  EXPECT_THROW(train_tokenizer({"some text 123"}, params, path), MuseError);
}

TEST(TokenizerTrain, AcceptsTheDocumentedMinimumVocab) {
  // train_tokenizer (and `muse tokenizer train --vocab`) accept kMinVocabSize as the smallest vocabulary, so it
  // must train on a small corpus.
  TokenizerTrainParams params;
  params.vocab_size = kMinVocabSize;
  const std::string path = test_dir() + "_min.model";
  EXPECT_NO_THROW(train_tokenizer({"12+34=46", "think step by step"}, params, path));
  std::filesystem::remove(path);
}

TEST(TokenizerTrain, RejectsEmptyCorpus) {
  TokenizerTrainParams params;
  params.vocab_size = 400;
  const std::string path = test_dir() + "_empty.model";
  EXPECT_THROW(train_tokenizer({}, params, path), MuseError);
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace muse

// SentencePiece BPE tokenizer with byte fallback (any UTF-8 or binary input encodes) and digits split one per
// token (multi-digit tokens make arithmetic much harder to learn). Id layout: 0 <unk>, 1 <s>, 2 </s>, 3 <pad>,
// then the specials of special_tokens.h, then reserved specials, then bytes and merges.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/special_tokens.h"

namespace muse {

class SentencePieceBackend;

// 4 base ids + specials + reserved + 256 byte tokens, plus room for the corpus's own characters.
inline constexpr int kMinVocabSize = 384;

struct TokenizerTrainParams {
  int vocab_size = 2048;          // upper bound; fewer pieces are kept if the corpus does not support more
  int max_sentence_bytes = 8192;  // longer corpus lines are split, not dropped
  int threads = 2;
};

class Tokenizer {
 public:
  // Loads a SentencePiece model file; MuseError "PATH: ..." if missing or not a Muse tokenizer.
  static Tokenizer load(const std::string& model_path);
  // From serialized model bytes (as stored by train_tokenizer).
  static Tokenizer from_serialized(const std::string& bytes, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Plain text -> ids. Special-token names in the text are encoded as ordinary characters.
  std::vector<int> encode(const std::string& text) const;
  // Ids -> text. Special tokens are written as their names when `show_specials`, dropped otherwise.
  std::string decode(const std::vector<int>& ids, bool show_specials = false) const;
  std::string piece(int id) const;

  int vocab_size() const;
  int special(Special s) const { return special_ids_[static_cast<int>(s)]; }
  bool is_special(int id) const;  // control tokens incl. bos/eos/pad
  int bos() const { return 1; }
  int eos() const { return 2; }
  int pad() const { return 3; }
  const std::string& serialized() const { return serialized_; }

 private:
  Tokenizer();
  std::unique_ptr<SentencePieceBackend> processor_;
  std::vector<int> special_ids_;
  std::string serialized_;
};

// Trains on `corpus` (one document per entry) and writes `model_path` atomically.
void train_tokenizer(const std::vector<std::string>& corpus, const TokenizerTrainParams& params,
                     const std::string& model_path);

}  // namespace muse

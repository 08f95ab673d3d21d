#include "tokenizer/tokenizer.h"

#include <unordered_map>

#include "tokenizer/sentencepiece_backend.h"

#include "util/atomic_file.h"
#include "util/error.h"

namespace muse {
namespace {

std::vector<std::string> control_symbol_names() {
  std::vector<std::string> names(kSpecialNames.begin(), kSpecialNames.end());
  for (int i = 0; i < kReservedSpecials; ++i) names.push_back("<|reserved_" + std::to_string(i) + "|>");
  return names;
}

// SentencePiece trains on lines: split documents on newlines and cut very long lines.
std::vector<std::string> corpus_lines(const std::vector<std::string>& corpus, size_t max_bytes) {
  std::vector<std::string> lines;
  for (const auto& doc : corpus) {
    size_t start = 0;
    while (start <= doc.size()) {
      size_t end = doc.find('\n', start);
      if (end == std::string::npos) end = doc.size();
      for (size_t p = start; p < end; p += max_bytes) lines.push_back(doc.substr(p, std::min(max_bytes, end - p)));
      start = end + 1;
    }
  }
  return lines;
}

}  // namespace

Tokenizer::Tokenizer() : processor_(make_sentencepiece_backend()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& model_path) {
  return from_serialized(read_file(model_path), model_path);
}

Tokenizer Tokenizer::from_serialized(const std::string& bytes, const std::string& origin) {
  Tokenizer tok;
  const auto error = tok.processor_->load(bytes);
  if (!error.empty()) throw file_error(origin, "not a SentencePiece model (" + error + ")");
  for (const auto& name : kSpecialNames) {
    const int id = tok.processor_->piece_to_id(std::string(name));
    if (tok.processor_->is_unknown(id) || !tok.processor_->is_control(id))
      throw file_error(origin, "tokenizer lacks Muse special token " + std::string(name) +
                                   " (was it trained by `muse tokenizer train`?)");
    tok.special_ids_.push_back(id);
  }
  tok.serialized_ = bytes;
  return tok;
}

std::vector<int> Tokenizer::encode(const std::string& text) const {
  // SentencePiece uses U+2581 "▁" as its space marker, so a literal ▁ in the text would come back as a space.
  // Literal ones are emitted as their three UTF-8 byte tokens instead, which decode to the character itself.
  static const std::string kMarker = "\xE2\x96\x81";
  std::vector<int> ids;
  size_t start = 0;
  while (true) {
    const size_t hit = text.find(kMarker, start);
    const std::string part = text.substr(start, hit == std::string::npos ? std::string::npos : hit - start);
    if (!part.empty()) {
      std::vector<int> part_ids;
      const auto error = processor_->encode(part, &part_ids);
      if (!error.empty()) throw MuseError("tokenizer: cannot encode text (" + error + ")");
      ids.insert(ids.end(), part_ids.begin(), part_ids.end());
    }
    if (hit == std::string::npos) break;
    for (const char* byte : {"<0xE2>", "<0x96>", "<0x81>"}) ids.push_back(processor_->piece_to_id(byte));
    start = hit + kMarker.size();
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids, bool show_specials) const {
  // Decode runs of ordinary tokens together (byte-fallback pieces only form UTF-8 characters jointly).
  std::string out;
  std::vector<int> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::string text;
    processor_->decode(run, &text);
    out += text;
    run.clear();
  };
  const int n = vocab_size();
  for (int id : ids) {
    if (id < 0 || id >= n) throw MuseError("tokenizer: token id " + std::to_string(id) + " out of range [0, " +
                                           std::to_string(n) + ")");
    if (is_special(id)) {
      flush();
      if (show_specials) out += processor_->id_to_piece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  return out;
}

std::string Tokenizer::piece(int id) const { return processor_->id_to_piece(id); }
int Tokenizer::vocab_size() const { return processor_->size(); }
bool Tokenizer::is_special(int id) const { return processor_->is_control(id) || processor_->is_unknown(id); }

void train_tokenizer(const std::vector<std::string>& corpus, const TokenizerTrainParams& params,
                     const std::string& model_path) {
  if (corpus.empty()) throw MuseError("tokenizer train: empty corpus");
  if (params.vocab_size < kMinVocabSize)
    throw MuseError("tokenizer train: vocab_size " + std::to_string(params.vocab_size) + " too small (needs >= " +
                    std::to_string(kMinVocabSize) + ": 4 base + " + std::to_string(kSpecialNames.size()) +
                    " specials + " + std::to_string(kReservedSpecials) + " reserved + 256 bytes + the corpus's characters)");
  std::string controls;
  for (const auto& name : control_symbol_names()) controls += (controls.empty() ? "" : ",") + name;
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(params.vocab_size)},
      {"hard_vocab_limit", "false"},
      {"byte_fallback", "true"},
      {"split_digits", "true"},
      {"character_coverage", "0.9995"},
      {"normalization_rule_name", "identity"},  // never rewrite the user's text
      {"add_dummy_prefix", "false"},            // so encode(a) + encode(b) stays close to encode(a + b)
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"max_sentence_length", std::to_string(params.max_sentence_bytes)},
      {"unk_id", "0"}, {"bos_id", "1"}, {"eos_id", "2"}, {"pad_id", "3"},
      {"control_symbols", controls},
      {"num_threads", std::to_string(params.threads)},
      {"minloglevel", "2"},
  };
  std::string serialized;
  const auto error = make_sentencepiece_backend()->train(
      args, corpus_lines(corpus, static_cast<size_t>(params.max_sentence_bytes)), &serialized);
  if (error.find("smaller than required_chars") != std::string::npos)
    throw MuseError("tokenizer train: vocab_size " + std::to_string(params.vocab_size) +
                    " is too small for this corpus's characters; raise --vocab");
  if (!error.empty()) throw MuseError("tokenizer train: " + error);
  write_file_atomic(model_path, serialized);
}

}  // namespace muse

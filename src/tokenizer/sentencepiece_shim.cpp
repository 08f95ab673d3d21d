// The only file that includes SentencePiece headers; built as libmuse_sentencepiece.so (see
// sentencepiece_backend.h for why it lives behind dlopen).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "tokenizer/sentencepiece_backend.h"

namespace muse {
namespace {

class LinesIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LinesIterator(const std::vector<std::string>& lines) : lines_(lines) {}
  bool done() const override { return index_ >= lines_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return lines_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& lines_;
  size_t index_ = 0;
};

class Backend : public SentencePieceBackend {
 public:
  std::string load(const std::string& serialized) override {
    const auto status = processor_.LoadFromSerializedProto(serialized);
    return status.ok() ? "" : status.ToString();
  }
  std::string encode(const std::string& text, std::vector<int>* ids) const override {
    const auto status = processor_.Encode(text, ids);
    return status.ok() ? "" : status.ToString();
  }
  std::string decode(const std::vector<int>& ids, std::string* text) const override {
    const auto status = processor_.Decode(ids, text);
    return status.ok() ? "" : status.ToString();
  }
  std::string train(const std::unordered_map<std::string, std::string>& args, const std::vector<std::string>& lines,
                    std::string* serialized) const override {
    LinesIterator iterator(lines);
    const auto status = sentencepiece::SentencePieceTrainer::Train(args, &iterator, serialized);
    return status.ok() ? "" : status.ToString();
  }
  std::string id_to_piece(int id) const override { return processor_.IdToPiece(id); }
  int piece_to_id(const std::string& piece) const override { return processor_.PieceToId(piece); }
  int size() const override { return processor_.GetPieceSize(); }
  bool is_control(int id) const override { return processor_.IsControl(id); }
  bool is_unknown(int id) const override { return processor_.IsUnknown(id); }

 private:
  sentencepiece::SentencePieceProcessor processor_;
};

}  // namespace
}  // namespace muse

extern "C" __attribute__((visibility("default"))) muse::SentencePieceBackend* muse_sentencepiece_backend_new() {
  return new muse::Backend();
}

// SentencePiece behind a dlopen() boundary.
//
// Why: Debian's libsentencepiece bundles its own protobuf-lite 3.14 and exports those symbols, while libtorch
// loads the system libprotobuf 3.21. Linked into one executable they interpose each other and the process
// dies during static initialisation. Loading a small shim (libmuse_sentencepiece.so) with RTLD_LOCAL |
// RTLD_DEEPBIND gives SentencePiece its own symbol scope, so both libraries work in one process.
// The interface is virtual-only, so no symbol crosses the boundary except the factory.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace muse {

class SentencePieceBackend {
 public:
  virtual ~SentencePieceBackend() = default;
  // Each returns an empty string on success, else the library's error message.
  virtual std::string load(const std::string& serialized_model) = 0;
  virtual std::string encode(const std::string& text, std::vector<int>* ids) const = 0;
  virtual std::string decode(const std::vector<int>& ids, std::string* text) const = 0;
  virtual std::string train(const std::unordered_map<std::string, std::string>& args,
                            const std::vector<std::string>& lines, std::string* serialized_model) const = 0;
  virtual std::string id_to_piece(int id) const = 0;
  virtual int piece_to_id(const std::string& piece) const = 0;
  virtual int size() const = 0;
  virtual bool is_control(int id) const = 0;
  virtual bool is_unknown(int id) const = 0;
};

// Loads the shim once per process (MuseError if it cannot be found) and returns a fresh backend.
std::unique_ptr<SentencePieceBackend> make_sentencepiece_backend();

}  // namespace muse

extern "C" muse::SentencePieceBackend* muse_sentencepiece_backend_new();

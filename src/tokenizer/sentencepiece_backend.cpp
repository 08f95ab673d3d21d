#include "tokenizer/sentencepiece_backend.h"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "util/error.h"

#ifndef MUSE_SENTENCEPIECE_SHIM
#define MUSE_SENTENCEPIECE_SHIM "libmuse_sentencepiece.so"
#endif

namespace muse {
namespace {

using Factory = SentencePieceBackend* (*)();

Factory load_factory() {
  // Beside the running binary first (installed layout), then the build tree's absolute path.
  std::vector<std::string> candidates;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path() / "libmuse_sentencepiece.so").string());
  candidates.push_back(MUSE_SENTENCEPIECE_SHIM);
  std::string errors;
  for (const auto& path : candidates) {
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)) {
      if (auto factory = reinterpret_cast<Factory>(dlsym(handle, "muse_sentencepiece_backend_new"))) return factory;
      errors += " " + path + ": no factory symbol;";
    } else {
      errors += std::string(" ") + dlerror() + ";";
    }
  }
  throw MuseError("cannot load the SentencePiece shim (libmuse_sentencepiece.so):" + errors +
                      " rebuild with scripts/build.sh",
                  ErrorKind::Unsupported);
}

}  // namespace

std::unique_ptr<SentencePieceBackend> make_sentencepiece_backend() {
  static std::once_flag once;
  static Factory factory = nullptr;
  std::call_once(once, [] { factory = load_factory(); });
  return std::unique_ptr<SentencePieceBackend>(factory());
}

}  // namespace muse

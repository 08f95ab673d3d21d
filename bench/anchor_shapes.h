// The model shapes ../shared/ANCHORS.md measures llama.cpp on, shared by the inference benchmarks so that their
// numbers compare with the anchors and with each other. Random weights; text only (no patch projection).
#pragma once
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "model/config.h"

namespace muse::bench {

struct AnchorShape {
  std::string name;  // "1M", "6M", "31M"
  int64_t vocab, d, layers, heads, ffn;
  double llama_1seq[2], llama_16seq[2];  // llama.cpp decode tok/s, 1 thread / 2 threads (ANCHORS.md)
};

inline const std::vector<AnchorShape>& anchor_shapes() {
  static const std::vector<AnchorShape> shapes = {
      {"1M", 1024, 128, 4, 4, 384, {6046, 7234}, {3899, 8254}},
      {"6M", 2048, 256, 6, 8, 768, {1012, 1529}, {1070, 1938}},
      {"31M", 4096, 512, 8, 8, 1536, {147, 231}, {610, 1133}},
  };
  return shapes;
}

// By name, case-insensitively ("6m" finds "6M"); null if unknown.
inline const AnchorShape* find_anchor_shape(const std::string& name) {
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  const auto& shapes = anchor_shapes();
  const auto it = std::find_if(shapes.begin(), shapes.end(), [&](const AnchorShape& s) { return lower(s.name) == lower(name); });
  return it == shapes.end() ? nullptr : &*it;
}

inline ModelConfig config_of(const AnchorShape& s, int64_t max_seq_len) {
  ModelConfig c;
  c.preset = s.name;
  c.vocab_size = s.vocab;
  c.d_model = s.d;
  c.n_layers = s.layers;
  c.n_heads = c.n_kv_heads = s.heads;
  c.ffn_hidden = s.ffn;
  c.max_seq_len = max_seq_len;
  const int64_t pairs = c.head_dim() / 2;
  c.mrope_sections = {pairs / 2, pairs / 4, pairs - pairs / 2 - pairs / 4};
  c.patch_size = 0;  // text only, like the llama models of the anchors
  return c;
}

}  // namespace muse::bench

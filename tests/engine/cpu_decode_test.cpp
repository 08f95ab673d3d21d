// The fused CPU decode path against the libtorch Transformer (the reference): N sequences of different lengths in
// non-contiguous blocks of a paged pool, K greedy steps each; every step's logits must equal a full recompute of
// the sequence within 1e-4, and the greedy continuations must equal libtorch's own KV-cached greedy decoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "engine/cpu_decode.h"
#include "util/error.h"

using namespace muse;

namespace {

ModelConfig small_config(int64_t d, int64_t heads, int64_t kv_heads, bool qk_norm) {
  ModelConfig c;
  c.vocab_size = 97;
  c.d_model = d;
  c.n_layers = 2;
  c.n_heads = heads;
  c.n_kv_heads = kv_heads;
  c.ffn_hidden = 3 * d / 2;
  c.max_seq_len = 128;
  c.qk_norm = qk_norm;
  const int64_t pairs = c.head_dim() / 2;
  c.mrope_sections = {pairs - 2 * (pairs / 4), pairs / 4, pairs / 4};
  return c;
}

Transformer random_model(const ModelConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    if (p.key().find("norm") != std::string::npos)
      p.value().normal_(1.0, 0.2);  // norm gains away from 1, so a missing or misplaced gain shows
    else
      p.value().normal_(0.0, 0.2);
  }
  return model;
}

// A pool whose blocks are handed out in shuffled order, so no sequence's blocks are contiguous.
struct TestPool {
  std::vector<torch::Tensor> keys, values;
  KVPoolView view;
  std::vector<int32_t> free_blocks;

  TestPool(const ModelConfig& c, int64_t num_blocks, int64_t block_size, uint64_t seed) {
    for (int64_t l = 0; l < c.n_layers; ++l) {
      // Garbage everywhere: a read of an unwritten slot would show.
      keys.push_back(torch::full({num_blocks, block_size, c.n_kv_heads, c.head_dim()}, 1e3f));
      values.push_back(torch::full({num_blocks, block_size, c.n_kv_heads, c.head_dim()}, -1e3f));
    }
    view = KVPoolView::of(keys, values);
    free_blocks.resize(static_cast<size_t>(num_blocks));
    std::iota(free_blocks.begin(), free_blocks.end(), 0);
    std::shuffle(free_blocks.begin(), free_blocks.end(), std::mt19937(static_cast<uint32_t>(seed)));
  }
  // Makes token index `tokens - 1` of seq writable.
  void cover(SequenceKV& seq, int64_t tokens) {
    while (static_cast<int64_t>(seq.block_table.size()) * view.layout.block_size < tokens) {
      ASSERT_FALSE(free_blocks.empty());
      seq.block_table.push_back(free_blocks.back());
      free_blocks.pop_back();
    }
  }
};

torch::Tensor positions_tensor(const std::vector<std::array<int64_t, 3>>& positions) {
  auto t = torch::empty({1, static_cast<int64_t>(positions.size()), 3}, torch::kInt64);
  for (size_t i = 0; i < positions.size(); ++i)
    for (int a = 0; a < 3; ++a) t[0][static_cast<int64_t>(i)][a] = positions[i][static_cast<size_t>(a)];
  return t;
}

torch::Tensor tokens_tensor(const std::vector<int64_t>& tokens) {
  return torch::tensor(tokens, torch::kInt64).view({1, static_cast<int64_t>(tokens.size())});
}

struct Sequence {
  std::vector<int64_t> tokens;                     // cached tokens, then the pending one
  std::vector<std::array<int64_t, 3>> positions;   // one per token
  SequenceKV kv;
  std::vector<int64_t> generated;
};

struct Case {
  ModelConfig config;
  std::vector<int64_t> prompt_lengths;  // tokens already in the pool before decoding (0: decoding starts cold)
  int64_t steps = 6;
  int64_t block_size = 4;
  bool mrope = false;  // image-like positions: row and col differ from t
  bool blas = false;   // OpenBLAS for every product instead of the built-in kernel
  bool kernel = false;  // the built-in kernel for every product (default: measured per product and batch size)
  int threads = 1;      // the decoder's threads
  uint64_t seed = 1;
  bool reload = false;  // after the decoder is made, copy another model's weights in place (its packed copies)
};

// Position of token i: text (i, i, i), or an image-like (t, row, col) walk.
std::array<int64_t, 3> position_of(int64_t i, bool mrope, std::mt19937& rng) {
  if (!mrope) return {i, i, i};
  std::uniform_int_distribution<int64_t> coordinate(0, 11);
  return {i / 2, coordinate(rng), coordinate(rng)};
}

struct Result {
  double max_diff = 0.0;   // largest |fused - reference| logit
  double max_logit = 0.0;  // largest |reference| logit, for scale
};

Result run_case(const Case& cs) {
  torch::NoGradGuard no_grad;
  const auto& c = cs.config;
  auto model = random_model(c, cs.seed);
  CpuDecoder decoder(*model, cs.threads);
  if (cs.blas) decoder.kernel_max_rows = 0;
  if (cs.kernel) decoder.kernel_max_rows = 1 << 30;
  if (cs.reload) {  // as loading a checkpoint into a live model does: the decoder must see the new weights
    auto other = random_model(c, cs.seed + 1000);
    const auto to = model->parameters(), from = other->parameters();
    for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  }
  TestPool pool(c, 64, cs.block_size, cs.seed);
  std::mt19937 rng(static_cast<uint32_t>(cs.seed));
  std::uniform_int_distribution<int64_t> token(0, c.vocab_size - 1);

  // Prompts: prefilled by libtorch into a KVCache, then copied into the pool's blocks.
  std::vector<Sequence> seqs(cs.prompt_lengths.size());
  for (size_t s = 0; s < seqs.size(); ++s) {
    auto& seq = seqs[s];
    const int64_t len = cs.prompt_lengths[s];
    for (int64_t i = 0; i <= len; ++i) {  // the prompt plus the first pending token
      seq.tokens.push_back(token(rng));
      seq.positions.push_back(position_of(i, cs.mrope, rng));
    }
    if (len > 0) {
      auto cache = KVCache::allocate(c, 1, len, torch::kCPU);
      std::vector<int64_t> prompt(seq.tokens.begin(), seq.tokens.begin() + len);
      std::vector<std::array<int64_t, 3>> prompt_pos(seq.positions.begin(), seq.positions.begin() + len);
      model->forward({tokens_tensor(prompt), positions_tensor(prompt_pos)}, &cache);
      pool.cover(seq.kv, len);
      store_kv_cache(cache, 0, len, seq.kv, pool.view);
      seq.kv.length = len;
    }
  }

  Result result;
  const int64_t n = static_cast<int64_t>(seqs.size());
  std::vector<DecodeRequest> requests(static_cast<size_t>(n));
  for (int64_t step = 0; step < cs.steps; ++step) {
    for (int64_t s = 0; s < n; ++s) {
      auto& seq = seqs[static_cast<size_t>(s)];
      pool.cover(seq.kv, seq.kv.length + 1);
      requests[static_cast<size_t>(s)] = {seq.tokens.back(), seq.positions.back(), &seq.kv, nullptr};
    }
    const float* logits = decoder.step(requests.data(), n, pool.view);
    for (int64_t s = 0; s < n; ++s) {
      auto& seq = seqs[static_cast<size_t>(s)];
      const float* row = logits + s * c.vocab_size;
      const auto reference =
          model->forward({tokens_tensor(seq.tokens), positions_tensor(seq.positions)})[0][-1].contiguous();
      const float* ref = reference.data_ptr<float>();
      for (int64_t v = 0; v < c.vocab_size; ++v) {
        result.max_diff = std::max(result.max_diff, std::fabs(double(row[v]) - ref[v]));
        result.max_logit = std::max(result.max_logit, std::fabs(double(ref[v])));
      }
      const int64_t next = std::max_element(row, row + c.vocab_size) - row;
      EXPECT_EQ(next, reference.argmax().item<int64_t>()) << "sequence " << s << " step " << step;
      seq.kv.length += 1;
      seq.generated.push_back(next);
      seq.tokens.push_back(next);
      seq.positions.push_back(position_of(static_cast<int64_t>(seq.tokens.size()) - 1, cs.mrope, rng));
    }
  }

  // libtorch's own KV-cached greedy decoding from the same prompt + first token gives the same continuation.
  for (auto& seq : seqs) {
    const int64_t start = static_cast<int64_t>(seq.tokens.size()) - cs.steps - 1;  // prompt + first pending
    auto cache = KVCache::allocate(c, 1, static_cast<int64_t>(seq.tokens.size()), torch::kCPU);
    std::vector<int64_t> prefix(seq.tokens.begin(), seq.tokens.begin() + start + 1);
    std::vector<std::array<int64_t, 3>> prefix_pos(seq.positions.begin(), seq.positions.begin() + start + 1);
    auto logits = model->forward({tokens_tensor(prefix), positions_tensor(prefix_pos)}, &cache);
    std::vector<int64_t> greedy;
    for (int64_t i = 0; i < cs.steps; ++i) {
      const int64_t next = logits[0][-1].argmax().item<int64_t>();
      greedy.push_back(next);
      const auto& p = seq.positions[static_cast<size_t>(start + 1 + i)];
      logits = model->forward({tokens_tensor({next}), positions_tensor({p})}, &cache);
    }
    EXPECT_EQ(greedy, seq.generated);
  }
  return result;
}

void expect_close(const Case& cs, const char* name) {
  const auto r = run_case(cs);
  std::printf("[ CpuDecode ] %s%s, %d thread(s): max |logits - libtorch| = %.3g (largest |logit| %.1f)\n", name,
              cs.blas ? " [OpenBLAS]" : (cs.kernel ? " [kernel]" : " [measured]"), cs.threads, r.max_diff,
              r.max_logit);
  EXPECT_LT(r.max_diff, 1e-4) << name;
  EXPECT_GT(r.max_logit, 1.0) << "logits this small would make the comparison meaningless";
}

}  // namespace

TEST(CpuDecode, MultiHeadText) {
  Case cs;
  cs.config = small_config(64, 4, 4, false);  // head_dim 16
  cs.prompt_lengths = {5, 17, 0, 9};
  cs.seed = 11;
  expect_close(cs, "MHA, text, block 4");
  cs.kernel = true;
  expect_close(cs, "MHA, text, block 4");
  cs.threads = 2;
  expect_close(cs, "MHA, text, block 4");
  cs.kernel = false;
  cs.threads = 3;
  expect_close(cs, "MHA, text, block 4");
}

TEST(CpuDecode, LogitSoftCap) {  // the model's cap * tanh(logits / cap), applied by the fused path too
  Case cs;
  cs.config = small_config(64, 4, 2, true);
  cs.config.logit_softcap = 2.0;  // small enough that random logits are bent well away from linear
  cs.prompt_lengths = {6, 0, 11};
  cs.seed = 13;
  expect_close(cs, "soft cap 2");
  EXPECT_LE(run_case(cs).max_logit, 2.0);
}

TEST(CpuDecode, ReLU2AndTiedEmbeddings) {  // the other feed-forward and the embedding matrix as the head
  for (const bool tied : {false, true}) {
    Case cs;
    cs.config = small_config(64, 4, 2, true);
    cs.config.ffn_activation = FfnActivation::ReLU2;
    cs.config.ffn_hidden = 80;
    cs.config.tie_embeddings = tied;
    cs.prompt_lengths = {7, 0, 12, 3};
    cs.seed = 17;
    const char* name = tied ? "relu2, tied" : "relu2";
    expect_close(cs, name);
    cs.kernel = true;
    cs.threads = 2;
    expect_close(cs, name);
  }
  Case cs;
  cs.config = small_config(64, 4, 4, false);
  cs.config.tie_embeddings = true;  // SwiGLU with the tied head
  cs.prompt_lengths = {4, 9};
  cs.seed = 19;
  cs.kernel = true;
  expect_close(cs, "swiglu, tied");
}

TEST(CpuDecode, GroupedQueryWithQKNorm) {
  Case cs;
  cs.config = small_config(128, 4, 2, true);  // head_dim 32, 2 query heads per kv head
  cs.prompt_lengths = {40, 3, 0, 16, 15};
  cs.block_size = 16;
  cs.seed = 12;
  expect_close(cs, "GQA 4->2, QK-norm, text, block 16");
  cs.blas = true;
  expect_close(cs, "GQA 4->2, QK-norm, text, block 16");
  cs.threads = 2;  // OpenBLAS split over the pool when it runs 1 thread itself, else on the calling thread
  expect_close(cs, "GQA 4->2, QK-norm, text, block 16");
  cs.blas = false;
  cs.kernel = true;
  expect_close(cs, "GQA 4->2, QK-norm, text, block 16");
}

TEST(CpuDecode, MRopePositionsGroupedQuery) {
  Case cs;
  cs.config = small_config(128, 8, 2, false);  // head_dim 16, 4 query heads per kv head
  cs.prompt_lengths = {23, 1, 8};
  cs.block_size = 8;
  cs.mrope = true;
  cs.seed = 13;
  expect_close(cs, "GQA 8->2, M-RoPE (t,row,col), block 8");
  cs.threads = 4;  // more threads than sequences: attention split by kv head as well
  expect_close(cs, "GQA 8->2, M-RoPE (t,row,col), block 8");
}

TEST(CpuDecode, MRopeQKNormOddHeadDim) {
  Case cs;
  cs.config = small_config(48, 4, 1, true);  // head_dim 12: vector loops' scalar tails; multi-query attention
  cs.prompt_lengths = {7, 30};
  cs.block_size = 4;
  cs.mrope = true;
  cs.seed = 14;
  expect_close(cs, "MQA 4->1, QK-norm, M-RoPE, head_dim 12");
  cs.threads = 2;
  expect_close(cs, "MQA 4->1, QK-norm, M-RoPE, head_dim 12");
}

TEST(CpuDecode, SingleSequence) {  // one row: the kernel's 16 x 1 tiles, or OpenBLAS's sgemv
  Case cs;
  cs.config = small_config(64, 4, 4, false);
  cs.prompt_lengths = {12};
  cs.steps = 10;
  cs.seed = 15;
  expect_close(cs, "1 sequence");
  cs.blas = true;
  expect_close(cs, "1 sequence");
  cs.blas = false;
  cs.threads = 2;
  expect_close(cs, "1 sequence");
  cs.kernel = true;
  expect_close(cs, "1 sequence");
}

TEST(CpuDecode, OddWidths) {  // d_model, ffn and vocab not multiples of the vector width: every tail path
  Case cs;
  cs.config = small_config(40, 2, 1, true);  // head_dim 20
  cs.config.ffn_hidden = 67;
  cs.config.vocab_size = 53;
  cs.prompt_lengths = {3, 0, 11, 6, 2, 9, 1};  // 7 rows: a 4-row tile and 3 leftover rows
  cs.seed = 17;
  expect_close(cs, "d 40, ffn 67, vocab 53, head_dim 20, 7 sequences");
  cs.kernel = true;
  expect_close(cs, "d 40, ffn 67, vocab 53, head_dim 20, 7 sequences");
  cs.threads = 3;  // column chunks that end inside a product and tails on every thread
  expect_close(cs, "d 40, ffn 67, vocab 53, head_dim 20, 7 sequences");
}

TEST(CpuDecode, WideBatchManyThreads) {  // more rows than one kernel tile, chunks over q/k/v and lm_head
  Case cs;
  cs.config = small_config(64, 4, 2, false);
  cs.config.vocab_size = 300;
  for (int i = 0; i < 21; ++i) cs.prompt_lengths.push_back((i * 7) % 19);
  cs.steps = 4;
  cs.block_size = 16;  // 21 x 2 blocks of the test pool's 64
  cs.seed = 18;
  cs.threads = 2;
  expect_close(cs, "21 sequences");
  cs.kernel = true;
  cs.threads = 5;
  expect_close(cs, "21 sequences");
  cs.kernel = false;
  cs.blas = true;
  expect_close(cs, "21 sequences");
}

TEST(CpuDecode, WeightsLoadedAfterConstruction) {  // the packed copies (4+ rows) follow in-place updates
  Case cs;
  cs.config = small_config(48, 2, 2, false);
  cs.prompt_lengths = {4, 1, 7, 2, 5, 3};
  cs.seed = 21;
  cs.kernel = true;
  cs.reload = true;
  expect_close(cs, "weights copied in after construction, 6 sequences");
}

TEST(CpuDecode, MeasuredChoiceSettles) {  // every product of the batch sizes seen is decided after a few steps
  Case cs;
  cs.config = small_config(64, 4, 4, false);
  cs.prompt_lengths = {3, 5};
  cs.seed = 19;
  torch::NoGradGuard no_grad;
  auto model = random_model(cs.config, cs.seed);
  CpuDecoder decoder(*model, 2);
  TestPool pool(cs.config, 16, 4, cs.seed);
  std::vector<SequenceKV> kv(2);
  for (int step = 0; step < 6 * CpuDecoder::kSamples; ++step) {  // up to 5 ways to try per product
    std::vector<DecodeRequest> requests;
    for (auto& k : kv) {
      pool.cover(k, k.length + 1);
      requests.push_back({1, {k.length, k.length, k.length}, &k, nullptr});
    }
    decoder.step(requests.data(), 2, pool.view);
    for (auto& k : kv) k.length += 1;
  }
  const std::string report = decoder.kernel_choices();
  std::printf("%s", report.c_str());
  EXPECT_EQ(report.find("measuring"), std::string::npos) << report;
  EXPECT_NE(report.find("lm_head n<=2"), std::string::npos) << report;
}

TEST(CpuDecode, EmbeddingOverrideAndErrors) {
  torch::NoGradGuard no_grad;
  const auto c = small_config(64, 4, 2, false);
  auto model = random_model(c, 16);
  CpuDecoder decoder(*model);
  decoder.kernel_max_rows = 1 << 30;  // one implementation for both steps: the measured choice may differ by rounding
  TestPool pool(c, 8, 4, 16);
  SequenceKV a, b;
  pool.cover(a, 1);
  pool.cover(b, 1);
  DecodeRequest by_token{5, {0, 0, 0}, &a, nullptr};
  std::vector<float> logits_token(static_cast<size_t>(c.vocab_size));
  const float* out = decoder.step(&by_token, 1, pool.view);
  std::copy(out, out + c.vocab_size, logits_token.begin());
  // An embedding given directly (as an image patch's would be) is used instead of the token's row.
  const auto row = model->embed->weight[5].contiguous();
  DecodeRequest by_embedding{0, {0, 0, 0}, &b, row.data_ptr<float>()};
  out = decoder.step(&by_embedding, 1, pool.view);
  for (int64_t v = 0; v < c.vocab_size; ++v) EXPECT_FLOAT_EQ(out[v], logits_token[static_cast<size_t>(v)]);

  SequenceKV uncovered;  // no block for its token
  DecodeRequest bad{1, {0, 0, 0}, &uncovered, nullptr};
  EXPECT_THROW(decoder.step(&bad, 1, pool.view), MuseError);
  DecodeRequest bad_token{c.vocab_size, {0, 0, 0}, &a, nullptr};
  EXPECT_THROW(decoder.step(&bad_token, 1, pool.view), MuseError);
}

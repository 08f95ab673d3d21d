#include "engine/batch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "engine/cpu_decode.h"
#include "util/error.h"

namespace muse {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

ModelInput model_input(torch::Tensor tokens, torch::Tensor positions) {
  ModelInput input;
  input.tokens = std::move(tokens);
  input.positions = std::move(positions);
  return input;
}

torch::Tensor positions_of(const Sequence& seq, int64_t begin, int64_t count) {
  auto positions = torch::empty({1, count, 3}, torch::kInt64);
  auto* out = positions.data_ptr<int64_t>();
  for (int64_t i = begin; i < begin + count; ++i)
    for (int a = 0; a < 3; ++a) *out++ = seq.positions[static_cast<size_t>(i)][static_cast<size_t>(a)];
  return positions;
}

}  // namespace

BatchRunner::BatchRunner(Transformer model, torch::Device device, KVPool& pool, bool fused_cpu_decode, int threads,
                         int64_t kernel_max_rows)
    : model_(std::move(model)), device_(device), pool_(pool), config_(model_->config()) {
  if (fused_cpu_decode) {
    if (!device_.is_cpu()) throw MuseError("the fused decode path runs on the CPU only", ErrorKind::Unsupported);
    decoder_ = std::make_unique<CpuDecoder>(*model_, threads);
    decoder_->kernel_max_rows = kernel_max_rows;
    pool_view_ = std::make_unique<KVPoolView>(KVPoolView::of(pool_.keys(), pool_.values()));
  }
}

BatchRunner::~BatchRunner() {
  // MUSE_DECODE_CHOICES=1: how the fused decoder ended up running each product (CpuDecoder::kernel_choices).
  if (decoder_ && std::getenv("MUSE_DECODE_CHOICES"))
    std::fprintf(stderr, "fused decoder, %d threads:\n%s", decoder_->threads(), decoder_->kernel_choices().c_str());
}

void BatchRunner::decode(const std::vector<Sequence*>& rows) {
  if (decoder_) decode_fused(rows);
  else decode_paged(rows);
}

void BatchRunner::keep_logits(const std::vector<Sequence*>& rows, const float* logits) {
  const int64_t V = config_.vocab_size;
  for (size_t b = 0; b < rows.size(); ++b) {
    Sequence& s = *rows[b];
    s.kv.length += 1;
    s.set_logits(logits + static_cast<int64_t>(b) * V, logits + static_cast<int64_t>(b + 1) * V);
    s.logits_at = s.kv.length;
  }
}

void BatchRunner::decode_fused(const std::vector<Sequence*>& rows) {
  requests_.resize(rows.size());
  for (size_t b = 0; b < rows.size(); ++b) {
    const Sequence& s = *rows[b];
    requests_[b].token = s.tokens[static_cast<size_t>(s.kv.length)];
    const auto& p = s.positions[static_cast<size_t>(s.kv.length)];
    requests_[b].position = {p[0], p[1], p[2]};
    requests_[b].kv = &s.kv;
    requests_[b].embedding = nullptr;
  }
  const float* logits = decoder_->step(requests_.data(), static_cast<int64_t>(rows.size()), *pool_view_);
  // No copy: each row points at its logits in the decoder's output until the next step.
  const int64_t V = config_.vocab_size;
  for (size_t b = 0; b < rows.size(); ++b) {
    Sequence& s = *rows[b];
    s.kv.length += 1;
    s.fresh_logits = logits + static_cast<int64_t>(b) * V;
    s.logits_at = s.kv.length;
  }
}

void BatchRunner::decode_paged(const std::vector<Sequence*>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size());
  int64_t L = 0;
  for (const Sequence* s : rows) L = std::max(L, s->kv.length + 1);
  auto tokens = torch::empty({B, 1}, torch::kInt64);
  auto positions = torch::empty({B, 1, 3}, torch::kInt64);
  auto write = torch::empty({B}, torch::kInt64);
  auto read = torch::zeros({B, L}, torch::kInt64);
  bool ragged = false;
  auto* tok = tokens.data_ptr<int64_t>();
  auto* pos = positions.data_ptr<int64_t>();
  auto* w = write.data_ptr<int64_t>();
  auto* rd = read.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const Sequence& s = *rows[static_cast<size_t>(b)];
    const int64_t n = s.kv.length + 1;
    tok[b] = s.tokens[static_cast<size_t>(s.kv.length)];
    for (int a = 0; a < 3; ++a) pos[b * 3 + a] = s.positions[static_cast<size_t>(s.kv.length)][static_cast<size_t>(a)];
    w[b] = pool_.slot(s.kv, s.kv.length);
    for (int64_t i = 0; i < n; ++i) rd[b * L + i] = pool_.slot(s.kv, i);
    ragged = ragged || n != L;
  }
  PagedSlots slots;
  slots.write = write.to(device_);
  slots.read = read.to(device_);
  if (ragged) {
    auto mask = torch::zeros({B, 1, 1, L}, torch::kFloat32);
    auto* m = mask.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = rows[static_cast<size_t>(b)]->kv.length + 1; i < L; ++i) m[b * L + i] = kNegInf;
    slots.mask = mask.to(device_);
  }
  KVCache cache;
  cache.keys = pool_.keys();
  cache.values = pool_.values();
  cache.paged = &slots;
  auto logits = model_->forward(model_input(tokens.to(device_), positions.to(device_)), &cache)
                    .select(1, 0)
                    .to(torch::kCPU, torch::kFloat32)
                    .contiguous();
  keep_logits(rows, logits.data_ptr<float>());
}

void BatchRunner::prefill(Sequence& seq, int64_t chunk) {
  const int64_t past = seq.kv.length, T = chunk, L = past + T;
  auto tokens = torch::empty({1, T}, torch::kInt64);
  auto* tok = tokens.data_ptr<int64_t>();
  for (int64_t i = 0; i < T; ++i) tok[i] = seq.tokens[static_cast<size_t>(past + i)];
  auto write = torch::empty({T}, torch::kInt64);
  auto read = torch::empty({1, L}, torch::kInt64);
  for (int64_t i = 0; i < T; ++i) write.data_ptr<int64_t>()[i] = pool_.slot(seq.kv, past + i);
  for (int64_t i = 0; i < L; ++i) read.data_ptr<int64_t>()[i] = pool_.slot(seq.kv, i);
  PagedSlots slots;
  slots.write = write.to(device_);
  slots.read = read.to(device_);
  if (T > 1) {
    // Query i (absolute past + i) sees keys 0 .. past + i.
    auto blocked = torch::ones({T, L}, torch::kBool).triu(past + 1);
    slots.mask = torch::zeros({1, 1, T, L}, torch::kFloat32).masked_fill_(blocked.view({1, 1, T, L}), kNegInf).to(device_);
  }
  ModelInput input = model_input(tokens.to(device_), positions_of(seq, past, T).to(device_));
  if (seq.patches.defined() && config_.patch_token_id >= 0) {
    const auto begin = seq.tokens.begin();
    const int64_t first = std::count(begin, begin + past, config_.patch_token_id);
    const int64_t count = std::count(begin + past, begin + past + T, config_.patch_token_id);
    if (count > 0) input.patches = seq.patches.narrow(0, first, count);
  }
  KVCache cache;
  cache.keys = pool_.keys();
  cache.values = pool_.values();
  cache.paged = &slots;
  auto logits = model_->forward(input, &cache).select(1, T - 1).to(torch::kCPU, torch::kFloat32).contiguous();
  seq.kv.length += T;
  seq.result.prefilled_tokens += T;
  const float* data = logits.data_ptr<float>();
  seq.set_logits(data, data + config_.vocab_size);
  seq.logits_at = seq.kv.length;
}

}  // namespace muse

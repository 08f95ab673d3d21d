#include "engine/cpu_decode.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <string>
#include <thread>

#include "engine/matmul_kernels.h"
#include "util/simd.h"
#include "util/error.h"

namespace muse {
namespace {

using namespace matmul;  // the products (engine/matmul_kernels.h)

using namespace simd;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const float* float_data(const torch::Tensor& t, const std::string& name) {
  if (!t.defined() || t.scalar_type() != torch::kFloat32 || !t.device().is_cpu() || !t.is_contiguous())
    throw MuseError("CpuDecoder: parameter " + name + " must be a contiguous float32 CPU tensor");
  return t.data_ptr<float>();
}

MUSE_INLINE float dot(const float* a, const float* b, int64_t len) {
  f8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) acc += load8(a + i) * load8(b + i);
  float s = hsum8(acc);
  for (; i < len; ++i) s += a[i] * b[i];
  return s;
}

// ---- one function per layer piece ----------------------------------------------------------------------------

// y[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * w, for `rows` rows of `dim` (y may alias x).
MUSE_SIMD_CLONES void rms_norm(const float* x, const float* w, float* y, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    const float inv = 1.0f / std::sqrt(dot(xr, xr, dim) / static_cast<float>(dim) + eps);
    int64_t c = 0;
    for (; c + 8 <= dim; c += 8) store8(yr + c, (load8(xr + c) * inv) * load8(w + c));
    for (; c < dim; ++c) yr[c] = (xr[c] * inv) * w[c];
  }
}

// Rotates each of `heads` heads of x (head_dim = 2 * pairs) in place: pair (2i, 2i+1) as a complex number
// times (cos_i + i sin_i).
MUSE_SIMD_CLONES void rotary(float* x, int64_t heads, int64_t pairs, const float* cos, const float* sin) {
  for (int64_t h = 0; h < heads; ++h) {
    float* xh = x + h * 2 * pairs;
    for (int64_t i = 0; i < pairs; ++i) {
      const float a = xh[2 * i], b = xh[2 * i + 1];
      xh[2 * i] = a * cos[i] - b * sin[i];
      xh[2 * i + 1] = a * sin[i] + b * cos[i];
    }
  }
}

// g = silu(g) * u = g / (1 + e^-g) * u over `count` elements.
MUSE_SIMD_CLONES void swiglu(float* g, const float* u, int64_t count) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const f8 x = load8(g + i);
    store8(g + i, x / (1.0f + exp8(-x)) * load8(u + i));
  }
  for (; i < count; ++i) g[i] = g[i] / (1.0f + exp1(-g[i])) * u[i];
}

// u = relu(u)^2 over `count` elements.
MUSE_SIMD_CLONES void relu_squared(float* u, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const float r = u[i] > 0.0f ? u[i] : 0.0f;
    u[i] = r * r;
  }
}

// p[t] = softmax(s)[t] over len scores, in place.
MUSE_INLINE void softmax(float* s, int64_t len) {
  float m = s[0];
  for (int64_t t = 1; t < len; ++t) m = std::max(m, s[t]);
  f8 acc = {};
  int64_t t = 0;
  for (; t + 8 <= len; t += 8) {
    const f8 e = exp8(load8(s + t) - m);
    store8(s + t, e);
    acc += e;
  }
  float sum = hsum8(acc);
  for (; t < len; ++t) sum += (s[t] = exp1(s[t] - m));
  const float inv = 1.0f / sum;
  for (t = 0; t < len; ++t) s[t] *= inv;
}

// Attention of one sequence's query heads q [H, hd] (rotated, already scaled by 1/sqrt(hd)) over its `len`
// cached tokens; out [H, hd]. Token t's keys (Hkv * hd floats of them) start the row
// block_table[t / block_size] * block_size + t % block_size of `keys`; query head h reads kv head h / G.
// Rows are visited in memory order, each one once for all heads: a block is one contiguous run of memory.
// keys/values point at the first of the Hkv kv heads attended within a token's row of row_floats floats (a task
// may take a subset of a sequence's heads).
MUSE_SIMD_CLONES void attend(const float* q, const float* keys, const float* values, const int32_t* block_table,
                             int64_t block_size, int64_t len, int64_t row_floats, int64_t Hkv, int64_t G, int64_t hd,
                             float* scores, float* out) {
  const int64_t H = Hkv * G;
  // scores[h][t] = q_h . k_t
  for (int64_t b = 0, t0 = 0; t0 < len; ++b, t0 += block_size) {
    const int64_t count = std::min(block_size, len - t0);
    const float* kb = keys + static_cast<int64_t>(block_table[b]) * block_size * row_floats;
    for (int64_t t = 0; t < count; ++t) {
      const float* k = kb + t * row_floats;
      for (int64_t g = 0, h = 0; g < Hkv; ++g)
        for (int64_t j = 0; j < G; ++j, ++h) scores[h * len + t0 + t] = dot(q + h * hd, k + g * hd, hd);
    }
  }
  for (int64_t h = 0; h < H; ++h) softmax(scores + h * len, len);
  // out_h = sum_t p_h[t] v_t
  std::fill(out, out + H * hd, 0.0f);
  for (int64_t b = 0, t0 = 0; t0 < len; ++b, t0 += block_size) {
    const int64_t count = std::min(block_size, len - t0);
    const float* vb = values + static_cast<int64_t>(block_table[b]) * block_size * row_floats;
    for (int64_t t = 0; t < count; ++t) {
      const float* v = vb + t * row_floats;
      for (int64_t g = 0, h = 0; g < Hkv; ++g)
        for (int64_t j = 0; j < G; ++j, ++h) {
          const float p = scores[h * len + t0 + t];
          const float* vg = v + g * hd;
          float* o = out + h * hd;
          int64_t i = 0;
          for (; i + 8 <= hd; i += 8) store8(o + i, load8(o + i) + p * load8(vg + i));
          for (; i < hd; ++i) o[i] += p * vg[i];
        }
    }
  }
}


// Row-count buckets of the measured choice: 1, 2, 3-4, 5-8, ..., 257+.
int row_bucket(int64_t n) {
  int b = 0;
  while (b + 1 < CpuDecoder::kRowBuckets && (int64_t{1} << b) < n) ++b;
  return b;
}

}  // namespace

KVPoolView KVPoolView::of(const std::vector<torch::Tensor>& keys, const std::vector<torch::Tensor>& values) {
  if (keys.empty() || keys.size() != values.size()) throw MuseError("KV pool: keys and values need one tensor per layer");
  KVPoolView view;
  const auto& k0 = keys[0];
  if (k0.dim() != 4) throw MuseError("KV pool: tensors must be [num_blocks, block_size, n_kv_heads, head_dim]");
  view.layout.n_layers = static_cast<int64_t>(keys.size());
  view.layout.num_blocks = k0.size(0);
  view.layout.block_size = k0.size(1);
  view.layout.n_kv_heads = k0.size(2);
  view.layout.head_dim = k0.size(3);
  for (size_t l = 0; l < keys.size(); ++l) {
    for (const auto* t : {&keys[l], &values[l]}) {
      if (t->sizes() != k0.sizes())
        throw MuseError("KV pool: layer " + std::to_string(l) + " has a different shape from layer 0");
      float_data(*t, "KV pool layer " + std::to_string(l));
    }
    view.keys.push_back(keys[l].data_ptr<float>());
    view.values.push_back(values[l].data_ptr<float>());
  }
  return view;
}

CpuDecoder::CpuDecoder(TransformerImpl& model, int threads) : config_(model.config()) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  pool_ = std::make_unique<ThreadPool>(threads);
  embed_ = float_data(model.embed->weight, "embed.weight");
  norm_ = float_data(model.norm->weight, "norm.weight");
  lm_head_ = float_data(model.output_weight(), config_.tie_embeddings ? "embed.weight (tied head)" : "lm_head.weight");
  const auto* inv_freq = model.named_buffers(/*recurse=*/false).find("inv_freq");
  if (!inv_freq) throw MuseError("CpuDecoder: the model has no inv_freq buffer");
  inv_freq_ = float_data(*inv_freq, "inv_freq");
  pair_axis_ = mrope_pair_axes(config_);
  for (size_t i = 0; i < model.layers->size(); ++i) {
    auto* block = model.layers[i]->as<BlockImpl>();
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights w{};
    w.attn_norm = float_data(block->attn_norm->weight, p + "attn_norm.weight");
    w.wq = float_data(block->wq->weight, p + "wq.weight");
    w.wk = float_data(block->wk->weight, p + "wk.weight");
    w.wv = float_data(block->wv->weight, p + "wv.weight");
    w.wo = float_data(block->wo->weight, p + "wo.weight");
    if (config_.qk_norm) {
      w.q_norm = float_data(block->q_norm->weight, p + "q_norm.weight");
      w.k_norm = float_data(block->k_norm->weight, p + "k_norm.weight");
    }
    w.ffn_norm = float_data(block->ffn_norm->weight, p + "ffn_norm.weight");
    w.w_gate = block->w_gate ? float_data(block->w_gate->weight, p + "w_gate.weight") : nullptr;
    w.w_up = float_data(block->w_up->weight, p + "w_up.weight");
    w.w_down = float_data(block->w_down->weight, p + "w_down.weight");
    layers_.push_back(w);
  }
  // The packed copies (CPUs with the kernel only): one buffer, each matrix 64-byte aligned (a panel's k-th row of
  // 16 floats is one cache line), then the pointers into it.
  if (!have_kernel()) return;
  std::vector<torch::Tensor> sources;
  std::vector<const float**> slots;  // where each packed copy's pointer goes
  for (size_t i = 0; i < model.layers->size(); ++i) {
    auto* block = model.layers[i]->as<BlockImpl>();
    int j = 0;
    for (auto* lin : {&block->wq, &block->wk, &block->wv, &block->wo, &block->w_gate, &block->w_up, &block->w_down}) {
      layers_[i].packed[j] = nullptr;
      if (*lin) {
        sources.push_back((*lin)->weight);
        slots.push_back(&layers_[i].packed[j]);
      }
      ++j;
    }
  }
  sources.push_back(model.output_weight());
  slots.push_back(&lm_head_packed_);
  int64_t total = 0;
  for (const auto& t : sources) total += packed_size(t.size(0), t.size(1));
  packed_store_.resize(static_cast<size_t>(total + 16));
  float* at = packed_store_.data();
  at += (16 - reinterpret_cast<uintptr_t>(at) / sizeof(float) % 16) % 16;
  for (const auto& t : sources) {
    PackedWeight pw;
    pw.source = t;
    pw.packed = at;
    at += packed_size(t.size(0), t.size(1));  // a multiple of 16 floats
    pack(pw);
    packed_.push_back(pw);
  }
  for (size_t i = 0; i < slots.size(); ++i) *slots[i] = packed_[i].packed;
}

void CpuDecoder::pack(PackedWeight& p) {
  p.version = p.source.is_inference() ? -1 : static_cast<int64_t>(p.source._version());
  pack_panels(p.source.data_ptr<float>(), p.source.size(0), p.source.size(1), p.packed);
}

void CpuDecoder::repack_changed() {
  for (auto& p : packed_)
    if (p.version >= 0 && static_cast<int64_t>(p.source._version()) != p.version) pack(p);
}

CpuDecoder::~CpuDecoder() = default;

void CpuDecoder::reserve(int64_t n, int64_t context) {
  // std::vector::resize allocates only when growing: steady-state steps allocate nothing.
  const auto& c = config_;
  const int64_t hd = c.head_dim(), pairs = hd / 2;
  auto grow = [](std::vector<float>& v, int64_t size) {
    if (static_cast<int64_t>(v.size()) < size) v.resize(static_cast<size_t>(size));
  };
  grow(ws_.x, n * c.d_model);
  grow(ws_.xn, n * c.d_model);
  grow(ws_.q, n * c.n_heads * hd);
  grow(ws_.k, n * c.n_kv_heads * hd);
  grow(ws_.v, n * c.n_kv_heads * hd);
  grow(ws_.att, n * c.n_heads * hd);
  grow(ws_.gate, n * c.ffn_hidden);
  grow(ws_.up, n * c.ffn_hidden);
  grow(ws_.logits, n * c.vocab_size);
  for (auto* v : {&ws_.cos_q, &ws_.sin_q, &ws_.cos_k, &ws_.sin_k}) grow(*v, n * pairs);
  if (context > context_) {
    context_ = std::max(context, 2 * context_);  // each thread's slice moves when it grows
    ws_.scores.assign(static_cast<size_t>(pool_->threads() * c.n_heads * context_), 0.0f);
  }
}

void CpuDecoder::rotations(const DecodeRequest* requests, int64_t n) {
  // The same floats TransformerImpl::forward builds: angle = float(position[axis]) * inv_freq, the queries'
  // rotation scaled by 1/sqrt(head_dim).
  const int64_t pairs = config_.head_dim() / 2;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config_.head_dim())));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < pairs; ++i) {
      const float angle = static_cast<float>(requests[s].position[pair_axis_[i]]) * inv_freq_[i];
      const float c = std::cos(angle), sn = std::sin(angle);
      ws_.cos_k[s * pairs + i] = c;
      ws_.sin_k[s * pairs + i] = sn;
      ws_.cos_q[s * pairs + i] = c * scale;
      ws_.sin_q[s * pairs + i] = sn * scale;
    }
}

void CpuDecoder::attention_layer(const DecodeRequest* requests, int64_t n, const KVPoolView& pool, int64_t layer) {
  const auto& c = config_;
  const int64_t H = c.n_heads, Hkv = c.n_kv_heads, G = H / Hkv, hd = c.head_dim(), pairs = hd / 2;
  const int64_t bs = pool.layout.block_size, row_floats = Hkv * hd;
  const float eps = static_cast<float>(c.norm_eps);
  const auto& w = layers_[layer];
  const auto t0 = profile ? Clock::now() : Clock::time_point{};
  // Tasks: (sequence, group of kv heads). Enough groups per sequence to give every thread work; each task
  // normalizes and rotates its own heads, writes their keys/values into this token's slot (its own part of the
  // row: tasks never share bytes) and attends with them. A sequence reads only its own blocks, and the slot
  // it writes is its own (the pool copies a shared partial block before a sequence writes into it).
  const auto start = Clock::now();
  Choice* measured = nullptr;
  const unsigned available = pool_->threads() > 1 ? (1u << kKernel1 | 1u << kKernelSplit) : 1u << kKernel1;
  const int way = choose_way(kAttention, n, available, &measured);
  const int threads = way == kKernelSplit ? pool_->threads() : 1;
  const int64_t groups = n >= 2 * threads ? 1 : std::min<int64_t>(Hkv, (2 * threads + n - 1) / n);
  float* const q_all = ws_.q.data();
  float* const k_all = ws_.k.data();
  const float* const v_all = ws_.v.data();
  float* const att_all = ws_.att.data();
  float* const scores_all = ws_.scores.data();
  const int64_t scores_per_thread = H * context_;
  auto task = [&](int64_t i, int thread) {
    const int64_t s = i / groups, part = i % groups;
    const int64_t g0 = part * Hkv / groups, g1 = (part + 1) * Hkv / groups;
    if (g1 == g0) return;
    float* q = q_all + s * H * hd + g0 * G * hd;
    float* k = k_all + s * row_floats + g0 * hd;
    if (c.qk_norm) {
      rms_norm(q, w.q_norm, q, (g1 - g0) * G, hd, eps);
      rms_norm(k, w.k_norm, k, g1 - g0, hd, eps);
    }
    rotary(q, (g1 - g0) * G, pairs, ws_.cos_q.data() + s * pairs, ws_.sin_q.data() + s * pairs);
    rotary(k, g1 - g0, pairs, ws_.cos_k.data() + s * pairs, ws_.sin_k.data() + s * pairs);
    const SequenceKV& kv = *requests[s].kv;
    const int64_t row = static_cast<int64_t>(kv.block_table[kv.length / bs]) * bs + kv.length % bs;
    const size_t bytes = sizeof(float) * static_cast<size_t>((g1 - g0) * hd);
    std::memcpy(pool.keys[layer] + row * row_floats + g0 * hd, k, bytes);
    std::memcpy(pool.values[layer] + row * row_floats + g0 * hd, v_all + s * row_floats + g0 * hd, bytes);
    attend(q, pool.keys[layer] + g0 * hd, pool.values[layer] + g0 * hd, kv.block_table.data(), bs, kv.length + 1,
           row_floats, g1 - g0, G, hd, scores_all + thread * scores_per_thread, att_all + s * H * hd + g0 * G * hd);
  };
  if (threads > 1) pool_->run(n * groups, task);
  else
    for (int64_t i = 0; i < n * groups; ++i) task(i, 0);
  if (measured) record_way(*measured, way, seconds_since(start) / static_cast<double>(n), available);
  if (profile) timings.attention_s += seconds_since(t0);
}

int CpuDecoder::choose_way(Op op, int64_t n, unsigned available, Choice** measured) {
  *measured = nullptr;
  auto first_of = [&](std::initializer_list<int> ways) {
    for (int w : ways)
      if (available & (1u << w)) return w;
    return -1;
  };
  if (kernel_max_rows >= 0 && op != kAttention) {
    const int w = n <= kernel_max_rows ? first_of({kKernelSplit, kKernel1}) : -1;
    return w >= 0 ? w : first_of({kBlasSplit, kBlasThreaded, kBlas1});
  }
  if (kernel_max_rows >= 0) return first_of({kKernelSplit, kKernel1});  // attention: all threads
  if ((available & (available - 1)) == 0) return first_of({kKernel1, kKernelSplit, kBlas1, kBlasSplit, kBlasThreaded});
  Choice& c = choices_[op][row_bucket(n)];
  *measured = &c;
  ++c.calls;
  // Still trying the ways, cheapest-looking first; one that came out over twice the best after its first
  // sample is not tried again now (on a busy machine a split run can cost 100x a single-threaded one: the
  // trials must not cost more than they can win). Probes below still give it its chances.
  double least = 0.0;
  for (int w = 0; w < kWays; ++w)
    if ((available & (1u << w)) && c.samples[w] > 0 && (least == 0.0 || c.estimate[w] < least)) least = c.estimate[w];
  int fewest = -1;
  for (int w = 0; w < kWays; ++w) {
    if (!(available & (1u << w)) || c.samples[w] >= kSamples) continue;
    if (c.samples[w] > 0 && c.estimate[w] > 2.0 * least) continue;
    if (fewest < 0 || c.samples[w] < c.samples[fewest]) fewest = w;
  }
  if (fewest >= 0) return fewest;
  int best = -1;
  for (int w = 0; w < kWays; ++w)
    if ((available & (1u << w)) && (best < 0 || c.estimate[w] < c.estimate[best])) best = w;
  c.pick = best;
  if (c.calls % kProbeEvery == 0) {  // now and then, one of the others again
    for (int i = 0; i < kWays; ++i) {
      const int w = (c.probe + i) % kWays;
      if (w != best && (available & (1u << w))) {
        c.probe = w + 1;
        return w;
      }
    }
  }
  return best;
}

void CpuDecoder::record_way(Choice& c, int way, double per_row, unsigned) {
  double& e = c.estimate[way];
  if (c.samples[way] == 0) e = per_row;
  else if (c.samples[way] < kSamples) e = std::min(e, per_row);  // the first samples: the least (cold caches)
  else e = 0.75 * e + 0.25 * per_row;
  ++c.samples[way];
}

void CpuDecoder::products(Op op, const float* x, int64_t n, int64_t K, const Product* ps, int count, After after) {
  const auto t0 = Clock::now();
  const int threads = pool_->threads();
  unsigned available = 0;
  if (have_kernel()) available |= 1u << kKernel1 | (threads > 1 ? 1u << kKernelSplit : 0u);
  // With a pool, OpenBLAS runs 1 thread inside step() (see the header): split over the pool, or its own
  // threads back for one call. Without, it runs as configured.
  available |= 1u << kBlas1;
  if (threads > 1) available |= 1u << kBlasSplit | (blas_outside_ > 1 ? 1u << kBlasThreaded : 0u);
  Choice* measured;
  const int way = choose_way(op, n, available, &measured);
  const bool kernel = way == kKernel1 || way == kKernelSplit;
  const bool split = way == kKernelSplit || way == kBlasSplit;
  auto cols = [&](const Product& p, int64_t c0, int64_t c1) {
    if (c1 <= c0) return;
    // The packed copy from column c0 on starts at packed + c0 * K when c0 is a panel boundary (the pool's
    // chunks are multiples of 16 columns; a chunk across two products of q/k/v may start inside a panel).
    const float* packed = p.packed && c0 % kPanel == 0 ? p.packed + c0 * K : nullptr;
    if (kernel) linear_kernel(x, n, K, p.w + c0 * K, packed, c1 - c0, p.y + c0, p.out, p.accumulate);
    else linear_blas(x, n, K, p.w + c0 * K, c1 - c0, p.y + c0, p.out, p.accumulate);
  };
  auto activate = [&](int64_t c0, int64_t c1) {  // the activation over columns [c0, c1) of every row
    const int64_t F = ps[0].out;
    if (after == After::SwiGLU)
      for (int64_t r = 0; r < n; ++r) swiglu(ps[0].y + r * F + c0, ps[1].y + r * F + c0, c1 - c0);
    else if (after == After::ReLU2)
      for (int64_t r = 0; r < n; ++r) relu_squared(ps[0].y + r * F + c0, c1 - c0);
  };
  if (!split) {
    if (way == kBlasThreaded) set_blas_threads(blas_outside_);
    for (int i = 0; i < count; ++i) cols(ps[i], 0, ps[i].out);
    if (way == kBlasThreaded) set_blas_threads(1);
    activate(0, ps[0].out);
  } else {
    // Column chunks, multiples of 16 (no two threads write one cache line of y). The kernel takes a few per
    // thread (a thread that starts late, on a busy machine, leaves its share to the others); OpenBLAS one per
    // thread (every call packs x again).
    int64_t total = 0;
    for (int i = 0; i < count; ++i) total += ps[i].out;
    if (after != After::Nothing) total = ps[0].out;  // chunks of columns of gate and up together
    const int64_t per_thread = kernel ? 4 : 1;
    const int64_t want = std::max<int64_t>(1, std::min<int64_t>(threads * per_thread, total / 32));
    const int64_t chunk = ((total + want - 1) / want + 15) / 16 * 16;
    const int64_t chunks = (total + chunk - 1) / chunk;
    auto task = [&](int64_t i, int) {
      const int64_t c0 = i * chunk, c1 = std::min(total, c0 + chunk);
      if (after != After::Nothing) {
        for (int p = 0; p < count; ++p) cols(ps[p], c0, c1);
        activate(c0, c1);
        return;
      }
      int64_t base = 0;  // columns of the products laid end to end
      for (int p = 0; p < count; ++p) {
        cols(ps[p], std::max<int64_t>(c0 - base, 0), std::min<int64_t>(c1 - base, ps[p].out));
        base += ps[p].out;
      }
    };
    pool_->run(chunks, task);
  }
  const double elapsed = seconds_since(t0);
  if (profile) timings.gemm_s += elapsed;
  if (measured) record_way(*measured, way, elapsed / static_cast<double>(n), available);
}

std::string CpuDecoder::kernel_choices() const {
  static const char* names[kOps] = {"q/k/v", "wo", "gate/up", "down", "lm_head", "attention"};
  static const char* ways[kWays] = {"kernel 1 thr", "kernel split", "blas 1 thr", "blas split", "blas threaded"};
  std::string out;
  for (int op = 0; op < kOps; ++op)
    for (int b = 0; b < kRowBuckets; ++b) {
      const Choice& c = choices_[op][b];
      if (c.calls == 0) continue;
      std::string line = std::string(names[op]) + " n<=" + std::to_string(int64_t{1} << b) + ":";
      for (int w = 0; w < kWays; ++w) {
        if (c.samples[w] == 0) continue;
        char item[64];
        std::snprintf(item, sizeof item, " %s %.2f", op == kAttention ? (w == 0 ? "1 thr" : "split") : ways[w],
                      1e6 * c.estimate[w]);
        line += item;
      }
      line += " us/row -> ";
      line += c.pick < 0 ? "measuring" : (op == kAttention ? (c.pick == 0 ? "1 thr" : "split") : ways[c.pick]);
      out += line + "\n";
    }
  return out;
}

const float* CpuDecoder::step(const DecodeRequest* requests, int64_t n, const KVPoolView& pool) {
  const auto& c = config_;
  const int64_t d = c.d_model, H = c.n_heads, Hkv = c.n_kv_heads, hd = c.head_dim(), F = c.ffn_hidden;
  const float eps = static_cast<float>(c.norm_eps);
  if (n <= 0) throw MuseError("CpuDecoder::step: no sequences");
  if (pool.layout.n_kv_heads != Hkv || pool.layout.head_dim != hd ||
      static_cast<int64_t>(pool.keys.size()) != c.n_layers)
    throw MuseError("CpuDecoder::step: the KV pool's layout does not match the model");
  int64_t context = 0;
  for (int64_t s = 0; s < n; ++s) {
    const auto& r = requests[s];
    if (!r.kv) throw MuseError("CpuDecoder::step: request without a KV sequence");
    if (r.token < 0 || r.token >= c.vocab_size) throw MuseError("CpuDecoder::step: token id out of range");
    const int64_t blocks_needed = r.kv->length / pool.layout.block_size + 1;
    if (static_cast<int64_t>(r.kv->block_table.size()) < blocks_needed)
      throw MuseError("CpuDecoder::step: block table does not cover token " + std::to_string(r.kv->length));
    for (int64_t b = 0; b < blocks_needed; ++b)
      if (r.kv->block_table[b] < 0 || r.kv->block_table[b] >= pool.layout.num_blocks)
        throw MuseError("CpuDecoder::step: block " + std::to_string(r.kv->block_table[b]) + " is outside the pool");
    context = std::max(context, r.kv->length + 1);
  }
  const auto start = Clock::now();
  const double gemm0 = timings.gemm_s, attention0 = timings.attention_s;
  reserve(n, context);
  repack_changed();
  rotations(requests, n);
  // OpenBLAS on 1 thread for the step when the decoder has its own (restored below; nothing in between throws).
  const bool own_blas = pool_->threads() > 1;
  if (own_blas) {
    blas_outside_ = blas_threads();
    if (blas_outside_ != 1) set_blas_threads(1);
  }

  float* x = ws_.x.data();
  float* xn = ws_.xn.data();
  for (int64_t s = 0; s < n; ++s) {
    const float* e = requests[s].embedding ? requests[s].embedding : embed_ + requests[s].token * d;
    std::memcpy(x + s * d, e, sizeof(float) * d);
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto& w = layers_[l];
    rms_norm(x, w.attn_norm, xn, n, d, eps);
    const Product qkv[3] = {{w.wq, w.packed[0], H * hd, ws_.q.data(), false},
                            {w.wk, w.packed[1], Hkv * hd, ws_.k.data(), false},
                            {w.wv, w.packed[2], Hkv * hd, ws_.v.data(), false}};
    products(kQKV, xn, n, d, qkv, 3);
    attention_layer(requests, n, pool, l);
    const Product wo = {w.wo, w.packed[3], d, x, true};  // x += attention . wo^T
    products(kWo, ws_.att.data(), n, H * hd, &wo, 1);
    rms_norm(x, w.ffn_norm, xn, n, d, eps);
    if (c.ffn_activation == FfnActivation::SwiGLU) {
      const Product gate_up[2] = {{w.w_gate, w.packed[4], F, ws_.gate.data(), false},
                                  {w.w_up, w.packed[5], F, ws_.up.data(), false}};
      products(kGateUp, xn, n, d, gate_up, 2, After::SwiGLU);
    } else {  // relu(up)^2 into the gate buffer, which w_down reads
      const Product up = {w.w_up, w.packed[5], F, ws_.gate.data(), false};
      products(kGateUp, xn, n, d, &up, 1, After::ReLU2);
    }
    const Product down = {w.w_down, w.packed[6], d, x, true};  // x += activation . w_down^T
    products(kDown, ws_.gate.data(), n, F, &down, 1);
  }
  rms_norm(x, norm_, xn, n, d, eps);
  const Product head = {lm_head_, lm_head_packed_, c.vocab_size, ws_.logits.data(), false};
  products(kLMHead, xn, n, d, &head, 1);
  if (c.logit_softcap > 0) {  // the model's logit cap (TransformerImpl::forward), one tanh per logit
    const float cap = static_cast<float>(c.logit_softcap);
    float* logits = ws_.logits.data();
    for (int64_t i = 0; i < n * c.vocab_size; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
  if (own_blas && blas_outside_ != 1) set_blas_threads(blas_outside_);
  if (profile) {
    const double total = seconds_since(start);
    timings.other_s += total - (timings.gemm_s - gemm0) - (timings.attention_s - attention0);
    timings.steps += 1;
    timings.tokens += n;
  }
  return ws_.logits.data();
}

void store_kv_cache(const KVCache& cache, int64_t row, int64_t count, const SequenceKV& seq, const KVPoolView& pool) {
  const int64_t layers = static_cast<int64_t>(cache.keys.size());
  if (layers != static_cast<int64_t>(pool.keys.size())) throw MuseError("store_kv_cache: layer counts differ");
  if (count > cache.length) throw MuseError("store_kv_cache: the cache holds fewer tokens than asked for");
  const int64_t bs = pool.layout.block_size, Hkv = pool.layout.n_kv_heads, hd = pool.layout.head_dim;
  if (static_cast<int64_t>(seq.block_table.size()) * bs < count)
    throw MuseError("store_kv_cache: the block table does not cover " + std::to_string(count) + " tokens");
  for (int64_t l = 0; l < layers; ++l) {
    for (int which = 0; which < 2; ++which) {
      // [Hkv, count, hd] -> [count, Hkv, hd], the pool's token-major order
      const auto src = (which == 0 ? cache.keys[l] : cache.values[l])[row].narrow(1, 0, count).transpose(0, 1)
                           .to(torch::kCPU, torch::kFloat32).contiguous();
      const float* from = src.data_ptr<float>();
      float* base = which == 0 ? pool.keys[l] : pool.values[l];
      for (int64_t t = 0; t < count; ++t) {
        const int64_t slot = static_cast<int64_t>(seq.block_table[t / bs]) * bs + t % bs;
        std::memcpy(base + slot * Hkv * hd, from + t * Hkv * hd, sizeof(float) * Hkv * hd);
      }
    }
  }
}

}  // namespace muse

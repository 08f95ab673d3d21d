#include "engine/matmul_kernels.h"

#include <cblas.h>

#include <cstring>

#include "util/simd.h"

#if MUSE_HAVE_OPENBLAS
extern "C" int openblas_get_num_threads(void);
extern "C" void openblas_set_num_threads(int);
#endif

namespace muse::matmul {

using namespace simd;

// ---- the products [n, in] x [in, out] ----------------------------------------------------------------------
// y [n, out] = x [n, in] . W^T (+ y), W [out, in] row-major as torch::nn::Linear stores it.
// For the few rows of a decode batch, OpenBLAS's sgemm spends much of its time packing W (each weight is used
// only n times). The kernel below reads W in place: an OT x RT tile of outputs x rows keeps OT * RT vector
// accumulators in registers and streams OT weight rows once per RT input rows; each weight row stays in L1 while
// every row tile passes over it. Builds for AVX-512 use 16-float vectors, AVX2 builds 8-float ones.
// GCC on x86-64 only (__builtin_shuffle, target attributes); elsewhere OpenBLAS does every product.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
typedef float f16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

template <typename V>
MUSE_INLINE V load_v(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// Lane i of the result = the sum of v[i]'s lanes, for as many vectors as lanes: log2(lanes) rounds, each of
// which adds the even and odd lanes of two vectors into one (2 permutes + 1 add per pair, instead of a
// horizontal sum per vector).
MUSE_INLINE f8 sum_lanes(f8* v) {
  const i8 even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = {1, 3, 5, 7, 9, 11, 13, 15};
#pragma GCC unroll 8
  for (int width = 8; width > 1; width /= 2)
#pragma GCC unroll 8
    for (int i = 0; i < width / 2; ++i)
      v[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], even) + __builtin_shuffle(v[2 * i], v[2 * i + 1], odd);
  return v[0];
}
MUSE_INLINE f16 sum_lanes(f16* v) {
  const i16 even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  const i16 odd = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
#pragma GCC unroll 16
  for (int width = 16; width > 1; width /= 2)
#pragma GCC unroll 16
    for (int i = 0; i < width / 2; ++i)
      v[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], even) + __builtin_shuffle(v[2 * i], v[2 * i + 1], odd);
  return v[0];
}

// y[r][o] (+)= x[r] . w[o] for an OB x RB tile (OB * RB <= lanes of V).
template <typename V, int OB, int RB>
MUSE_INLINE void matmul_tile(const float* x, int64_t K, const float* w, float* y, int64_t ldy, bool accumulate) {
  constexpr int L = sizeof(V) / sizeof(float);
  static_assert(OB * RB <= L, "one lane of the result per accumulator");
  V acc[L] = {};  // acc[o * RB + r]; the unused ones stay zero
  int64_t k = 0;
  for (; k + L <= K; k += L) {
    V xv[RB];
#pragma GCC unroll 16
    for (int r = 0; r < RB; ++r) xv[r] = load_v<V>(x + r * K + k);
#pragma GCC unroll 16
    for (int o = 0; o < OB; ++o) {
      const V wv = load_v<V>(w + o * K + k);
#pragma GCC unroll 16
      for (int r = 0; r < RB; ++r) acc[o * RB + r] += wv * xv[r];
    }
  }
  const V sums = sum_lanes(acc);
#pragma GCC unroll 16
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 16
    for (int r = 0; r < RB; ++r) {
      float sum = sums[o * RB + r];
      for (int64_t j = k; j < K; ++j) sum += x[r * K + j] * w[o * K + j];  // K % L leftovers
      float* dst = y + r * ldy + o;
      *dst = accumulate ? *dst + sum : sum;
    }
}

// All outputs for RB rows: tiles of OB outputs, then single outputs.
template <typename V, int OB, int RB>
MUSE_INLINE void matmul_rows(const float* x, int64_t K, const float* w, int64_t out, float* y, int64_t ldy,
                             bool accumulate) {
  int64_t o = 0;
  for (; o + OB <= out; o += OB) matmul_tile<V, OB, RB>(x, K, w + o * K, y + o, ldy, accumulate);
  for (; o < out; ++o) matmul_tile<V, 1, RB>(x, K, w + o * K, y + o, ldy, accumulate);
}

// y [n, out] (row stride ldy) (+)= x [n, K] . w[out, K]^T. Outputs in blocks whose weight rows fill ~16 KB (half
// an L1 data cache), and within a block every row tile: each weight row is read from memory once per product
// and from L1 by every further row tile, x's rows come from L1/L2. Row tiles of RT rows with OT outputs per tile
// (OT * RT = lanes); the last n % RT rows with as many outputs per tile as fill the lanes.
template <typename V, int OT, int RT>
MUSE_INLINE void matmul_nt(const float* x, int64_t n, int64_t K, const float* w, int64_t out, float* y, int64_t ldy,
                           bool accumulate) {
  constexpr int L = sizeof(V) / sizeof(float);
  static_assert(OT * RT == L && RT <= 4, "tiles fill the lanes; at most 3 leftover rows");
  const int64_t block = std::max<int64_t>(OT, 4096 / std::max<int64_t>(K, 1) / OT * OT);
  for (int64_t o0 = 0; o0 < out; o0 += block) {
    const int64_t count = std::min(block, out - o0);
    const float* wb = w + o0 * K;
    int64_t r = 0;
    for (; r + RT <= n; r += RT) matmul_rows<V, OT, RT>(x + r * K, K, wb, count, y + r * ldy + o0, ldy, accumulate);
    const float* xr = x + r * K;
    float* yr = y + r * ldy + o0;
    switch (n - r) {
      case 1: matmul_rows<V, L, 1>(xr, K, wb, count, yr, ldy, accumulate); break;
      case 2: if constexpr (RT > 2) matmul_rows<V, L / 2, 2>(xr, K, wb, count, yr, ldy, accumulate); break;
      case 3: if constexpr (RT > 3) matmul_rows<V, L / 3, 3>(xr, K, wb, count, yr, ldy, accumulate); break;
      default: break;
    }
  }
}

// The packed kernel. matmul_nt's dot products end every tile in horizontal sums and re-read each weight row for
// every row tile of just 2-4 rows (~30 GFLOP/s on Zen 3 at 8 rows); an outer-product kernel does better (~95): W is kept packed (pack_panels, done once per weight) as panels of kPanel consecutive outputs,
// [K][kPanel] each, so that one k step loads kPanel contiguous weights, broadcasts x[r][k] for each of MR rows and
// FMAs into MR x (NP * kPanel) accumulators that stay in registers for the whole K loop (no horizontal sums).
// matmul_nt remains for column ranges that start inside a panel (a pool chunk across two of q/k/v).

// Every lane = s, as one vbroadcastss: a shuffle of lane 0 (GCC turns V{} + s into an add of 0.0f and a lane loop
// into a chain of inserts).
MUSE_INLINE f8 splat(float s, f8) { return __builtin_shuffle(f8{s}, i8{}); }
MUSE_INLINE f16 splat(float s, f16) { return __builtin_shuffle(f16{s}, i16{}); }

// Tile: rows [0, MR) x outputs [0, NP * kPanel) of the panels at w (panel stride kPanel * K); only the first
// `valid` outputs are written (the last panel's padding is zero weights).
template <typename V, int MR, int NP>
MUSE_INLINE void packed_tile(const float* x, int64_t K, const float* w, int64_t valid, float* y, int64_t ldy,
                             bool accumulate) {
  constexpr int L = sizeof(V) / sizeof(float), NV = NP * kPanel / L;  // vectors per row of the tile
  V acc[MR][NV] = {};
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    V wv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) wv[j] = load_v<V>(w + (j * L / kPanel) * kPanel * K + k * kPanel + j * L % kPanel);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const V xb = splat(x[r * K + k], V{});
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[r][j] += xb * wv[j];
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* dst = y + r * ldy;
    if (valid == NV * L) {
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        V v = acc[r][j];
        if (accumulate) v += load_v<V>(dst + j * L);
        std::memcpy(dst + j * L, &v, sizeof v);
      }
    } else {  // the last, partial panel
      float tmp[NV * L];
      std::memcpy(tmp, acc[r], sizeof tmp);
      for (int64_t o = 0; o < valid; ++o) dst[o] = accumulate ? dst[o] + tmp[o] : tmp[o];
    }
  }
}

// One tile of m rows (1 <= m <= MR), m chosen at run time.
template <typename V, int MR, int NP>
MUSE_INLINE void packed_tile_rows(int64_t m, const float* x, int64_t K, const float* w, int64_t valid, float* y,
                                  int64_t ldy, bool accumulate) {
  if (m == MR) return packed_tile<V, MR, NP>(x, K, w, valid, y, ldy, accumulate);
  if constexpr (MR > 1) packed_tile_rows<V, MR - 1, NP>(m, x, K, w, valid, y, ldy, accumulate);
}

// y [n, out] (row stride ldy) (+)= x [n, K] . W^T, W packed from its first output on (see pack_panels). For each
// group of NP panels (NP * kPanel * K floats: ~16-32 KB at the models' widths, so it stays in L1/L2) every row
// tile passes over it; the n rows go in ceil(n / MR) tiles of near-equal size (8 rows as 4 + 4, not 6 + 2: a
// tile of few rows has too few accumulators to hide the FMA latency).
template <typename V, int MR, int NP>
MUSE_INLINE void matmul_packed(const float* x, int64_t n, int64_t K, const float* packed, int64_t out, float* y,
                               int64_t ldy, bool accumulate) {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  const int64_t tiles = (n + MR - 1) / MR, base = n / tiles, extra = n % tiles;
  for (int64_t p = 0; p < panels; p += NP) {
    const int64_t valid = std::min<int64_t>(NP * kPanel, out - p * kPanel);
    const float* w = packed + p * kPanel * K;
    int64_t r = 0;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t m = base + (t < extra ? 1 : 0);
      float* yt = y + r * ldy + p * kPanel;
      if (NP > 1 && valid <= kPanel) packed_tile_rows<V, MR, 1>(m, x + r * K, K, w, valid, yt, ldy, accumulate);
      else packed_tile_rows<V, MR, NP>(m, x + r * K, K, w, valid, yt, ldy, accumulate);
      r += m;
    }
  }
}

#define MUSE_HAVE_MATMUL_KERNELS 1
__attribute__((target("arch=x86-64-v4"))) void matmul_nt_avx512(const float* x, int64_t n, int64_t K,
                                                                 const float* w, int64_t out, float* y, int64_t ldy,
                                                                 bool accumulate) {
  matmul_nt<f16, 4, 4>(x, n, K, w, out, y, ldy, accumulate);  // 16 accumulators of 32 zmm registers
}
__attribute__((target("arch=x86-64-v3"))) void matmul_nt_avx2(const float* x, int64_t n, int64_t K, const float* w,
                                                               int64_t out, float* y, int64_t ldy, bool accumulate) {
  matmul_nt<f8, 4, 2>(x, n, K, w, out, y, ldy, accumulate);  // 8 accumulators of 16 ymm registers
}
// AVX2: 6 rows x 16 outputs = 12 accumulators + 2 weight vectors + 1 broadcast of the 16 ymm registers.
__attribute__((target("arch=x86-64-v3"))) void matmul_packed_avx2(const float* x, int64_t n, int64_t K,
                                                                   const float* packed, int64_t out, float* y,
                                                                   int64_t ldy, bool accumulate) {
  matmul_packed<f8, 6, 1>(x, n, K, packed, out, y, ldy, accumulate);
}
// AVX-512: 8 rows x 32 outputs = 16 accumulators + 2 + 1 of the 32 zmm registers.
__attribute__((target("arch=x86-64-v4"))) void matmul_packed_avx512(const float* x, int64_t n, int64_t K,
                                                                     const float* packed, int64_t out, float* y,
                                                                     int64_t ldy, bool accumulate) {
  matmul_packed<f16, 8, 2>(x, n, K, packed, out, y, ldy, accumulate);
}
// 2: AVX-512, 1: AVX2 + FMA, 0: neither (OpenBLAS does every product).
int simd_level() {
  static const int level = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
                               ? 2
                               : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0);
  return level;
}
#endif

bool have_kernel() {
#ifdef MUSE_HAVE_MATMUL_KERNELS
  return simd_level() >= 1;
#else
  return false;
#endif
}

// Rows from which the packed kernel beats the in-place one: from 1 (a microbenchmark on Zen 3 AVX2, weights
// in cache: 1.3-2x at 1 row, 2.3-3.4x at 4-16 rows, ~95 GFLOP/s). Kept as a knob for CPUs where it differs.
constexpr int64_t kPackedMinRows = 1;

// y [n, out] (row stride ldy) (+)= x [n, in] . w^T through the built-in kernel (have_kernel() must hold);
// `packed`: the same outputs of w in pack_panels' layout (from an output that is a multiple of kPanel), or null.
void linear_kernel(const float* x, int64_t n, int64_t in, const float* w, const float* packed, int64_t out,
                   float* y, int64_t ldy, bool accumulate) {
#ifdef MUSE_HAVE_MATMUL_KERNELS
  const bool use_packed = packed && n >= kPackedMinRows;
  if (simd_level() == 2)
    return use_packed ? matmul_packed_avx512(x, n, in, packed, out, y, ldy, accumulate)
                      : matmul_nt_avx512(x, n, in, w, out, y, ldy, accumulate);
  return use_packed ? matmul_packed_avx2(x, n, in, packed, out, y, ldy, accumulate)
                    : matmul_nt_avx2(x, n, in, w, out, y, ldy, accumulate);
#else
  (void)x, (void)n, (void)in, (void)w, (void)packed, (void)out, (void)y, (void)ldy, (void)accumulate;
#endif
}

// Floats of w [out, K] packed as panels (pack_panels): whole panels, the last one zero-padded.
int64_t packed_size(int64_t out, int64_t K) { return (out + kPanel - 1) / kPanel * kPanel * K; }
// dst [panels][K][kPanel] = w [out, K] transposed panel by panel: dst[p][k][j] = w[p * kPanel + j][k].
void pack_panels(const float* w, int64_t out, int64_t K, float* dst) {
  const int64_t panels = (out + kPanel - 1) / kPanel;
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t j = 0; j < kPanel; ++j) {
      const int64_t o = p * kPanel + j;
      float* d = dst + p * kPanel * K + j;
      for (int64_t k = 0; k < K; ++k) d[k * kPanel] = o < out ? w[o * K + k] : 0.0f;
    }
}

// The same through OpenBLAS: sgemv for one row, sgemm otherwise.
void linear_blas(const float* x, int64_t n, int64_t in, const float* w, int64_t out, float* y, int64_t ldy,
                 bool accumulate) {
  const float beta = accumulate ? 1.0f : 0.0f;
  if (n == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(out), static_cast<int>(in), 1.0f, w,
                static_cast<int>(in), x, 1, beta, y, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(out),
                static_cast<int>(in), 1.0f, x, static_cast<int>(in), w, static_cast<int>(in), beta, y,
                static_cast<int>(ldy));
}

// OpenBLAS's own thread count (process-wide, openblas_set_num_threads).
int blas_threads() {
#if MUSE_HAVE_OPENBLAS
  return openblas_get_num_threads();
#else
  return 1;  // no OpenBLAS: the BLAS libtorch carries; its threads are not ours to change
#endif
}
void set_blas_threads(int threads) {
#if MUSE_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#else
  (void)threads;
#endif
}

}  // namespace muse::matmul

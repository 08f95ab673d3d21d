// SIMD helpers for the hot CPU loops (the fused decode path, the sampler, the fused training kernels):
// eight-float GCC vectors and a vector e^x.
// Functions that use them are marked MUSE_SIMD_CLONES (compiled for AVX-512, AVX2+FMA and baseline, the best one
// picked when the program loads), and the helpers are always inlined into each clone.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

// Hot loops are compiled three times (AVX-512, AVX2+FMA, baseline) and the best one the CPU runs is picked
// when the program loads (GCC function multi-versioning); the build itself stays free of -march flags.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MUSE_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MUSE_SIMD_CLONES
#endif
// The vector helpers below must be inlined into each clone (a call would pass vectors through memory, and
// the baseline ABI differs from the AVX one, which GCC warns about).
#define MUSE_INLINE inline __attribute__((always_inline))
#pragma GCC diagnostic ignored "-Wpsabi"


namespace muse::simd {

// Eight floats as one GCC/Clang vector: plain arithmetic on it becomes one AVX instruction in the v3/v4 clones
// (two SSE instructions in the baseline one). -O2 alone does not vectorize these loops (reductions, exp).
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
MUSE_INLINE f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
MUSE_INLINE void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }
MUSE_INLINE f8 splat8(float x) { return f8{} + x; }
MUSE_INLINE float hsum8(f8 v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }
MUSE_INLINE float hmax8(f8 v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = std::max(m, v[i]);
  return m;
}

// e^x for the softmax and SiLU (std::exp is a libm call per element). Cephes' expf: x = n ln2 + r,
// |r| <= ln2/2, e^r by a degree-7 polynomial, 2^n through the exponent bits. Relative error ~2 ulp; inputs are
// clamped to [-87.3, 88.3] (e^-87.3 ~ 1e-38).
template <typename F, typename I>
MUSE_INLINE F exp_poly(F x, F nf, I n) {
  F r = x - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  F p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const I bits = (n + 127) << 23;
  F scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
MUSE_INLINE float exp1(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float fn = x * 1.44269504088896341f;
  const int32_t n = static_cast<int32_t>(fn + (fn >= 0.0f ? 0.5f : -0.5f));  // round to nearest
  return exp_poly(x, static_cast<float>(n), n);
}
MUSE_INLINE f8 exp8(f8 x) {
  x = x < -87.3f ? splat8(-87.3f) : x;
  x = x > 88.3f ? splat8(88.3f) : x;
  const f8 fn = x * 1.44269504088896341f;
  const i8 n = __builtin_convertvector(fn + (fn >= 0.0f ? splat8(0.5f) : splat8(-0.5f)), i8);
  return exp_poly(x, __builtin_convertvector(n, f8), n);
}

}  // namespace muse::simd

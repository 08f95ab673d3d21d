// The matrix products of the fused CPU decoder: y [n, out] (+)= x [n, in] . W^T for the few rows of a decode
// batch — the built-in SIMD kernels (in place, or over weights packed into panels) and OpenBLAS — and OpenBLAS's
// thread count. The decoder (engine/cpu_decode.h) chooses among them per product; every way computes the same
// products up to float rounding.
#pragma once
#include <cstdint>

namespace muse::matmul {

// Outputs per panel of the packed weights (pack_panels); the decoder's column chunks are multiples of it.
constexpr int64_t kPanel = 16;

// 2: AVX-512, 1: AVX2 + FMA, 0: neither (OpenBLAS does every product).
int simd_level();
// The built-in kernel can run on this CPU and build.
bool have_kernel();

// y [n, out] (row stride ldy) (+)= x [n, in] . w^T through the built-in kernel (have_kernel() must hold);
// `packed`: the same outputs of w in pack_panels' layout (from an output that is a multiple of kPanel), or null.
void linear_kernel(const float* x, int64_t n, int64_t in, const float* w, const float* packed, int64_t out,
                   float* y, int64_t ldy, bool accumulate);
// Floats of w [out, K] packed as panels (pack_panels): whole panels, the last one zero-padded.
int64_t packed_size(int64_t out, int64_t K);
// dst [panels][K][kPanel] = w [out, K] transposed panel by panel: dst[p][k][j] = w[p * kPanel + j][k].
void pack_panels(const float* w, int64_t out, int64_t K, float* dst);
// The same product through OpenBLAS: sgemv for one row, sgemm otherwise.
void linear_blas(const float* x, int64_t n, int64_t in, const float* w, int64_t out, float* y, int64_t ldy,
                 bool accumulate);
// OpenBLAS's own thread count (process-wide, openblas_set_num_threads).
int blas_threads();
void set_blas_threads(int threads);

}  // namespace muse::matmul

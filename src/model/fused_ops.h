// Elementwise parts of the transformer as one pass each (forward and backward), where libtorch 1.13 runs a chain
// of kernels and keeps their intermediates alive for backward: RMSNorm (6 kernels forward, ~10 backward) and
// SwiGLU's silu(gate) * up (2 forward, 4 backward), and the rotary embedding's complex multiply. On CPU float32 tensors they run hand-written loops with the
// same maths; on any other device or dtype they fall back to the composite ATen expression, so results do not
// depend on which path ran beyond float rounding (tests/model/fused_ops_test.cpp checks values and gradients).
#pragma once
#include <ATen/ATen.h>

namespace muse {

// x * rsqrt(mean(x^2, last dim) + eps) * weight; weight has x's last dimension.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
// silu(gate) * up, elementwise (same shapes).
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);
// x [B, T, H, D] with adjacent pairs (2i, 2i+1) rotated by rotation [B, T, 1, D/2] (complex; no gradient flows to
// it). The fused path works on cos/sin directly, where the complex multiply's backward materialises a conjugate.
at::Tensor rotate_pairs(const at::Tensor& x, const at::Tensor& rotation);

// Process-wide switch (default on), for side-by-side benchmarks: off, every call takes the composite path.
void set_fused_ops_enabled(bool enabled);
bool fused_ops_enabled();

// The composite ATen expressions, for other devices and as the tests' reference.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps);
at::Tensor swiglu_reference(const at::Tensor& gate, const at::Tensor& up);
at::Tensor rotate_pairs_reference(const at::Tensor& x, const at::Tensor& rotation);

}  // namespace muse

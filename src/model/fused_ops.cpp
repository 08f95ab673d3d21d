#include "model/fused_ops.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <vector>

#include "util/simd.h"

namespace muse {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::atomic<bool> g_fused_enabled{true};

bool fusable(const at::Tensor& t) {
  return g_fused_enabled.load(std::memory_order_relaxed) && t.device().is_cpu() && t.scalar_type() == at::kFloat;
}

// Rows per parallel chunk: enough work per task that scheduling costs nothing next to it.
int64_t grain_rows(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

// Row kernels, eight floats at a time (util/simd.h: compiled for AVX-512, AVX2 and baseline, picked at load).
using simd::f8;
using simd::load8;
using simd::splat8;
using simd::store8;

MUSE_SIMD_CLONES void rms_norm_rows(const float* x, const float* w, float* y, float* rstd, int64_t begin, int64_t end,
                                    int64_t d, float eps) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    f8 acc = {};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8) acc += load8(xr + j) * load8(xr + j);
    float sum = simd::hsum8(acc);
    for (; j < d; ++j) sum += xr[j] * xr[j];
    const float s = 1.f / std::sqrt(sum / static_cast<float>(d) + eps);
    rstd[r] = s;
    j = 0;
    for (; j + 8 <= d; j += 8) store8(yr + j, load8(xr + j) * s * load8(w + j));
    for (; j < d; ++j) yr[j] = xr[j] * s * w[j];
  }
}

// dx_i = s (w_i g_i - x_i s^2 <g w, x> / d); dw_part_j += g_j x_j s.
MUSE_SIMD_CLONES void rms_norm_backward_rows(const float* x, const float* w, const float* rstd, const float* g,
                                             float* dx, float* dw_part, int64_t begin, int64_t end, int64_t d) {
  for (int64_t r = begin; r < end; ++r) {
    const float *xr = x + r * d, *gr = g + r * d;
    float* dxr = dx + r * d;
    const float s = rstd[r];
    f8 acc = {};
    int64_t j = 0;
    for (; j + 8 <= d; j += 8) acc += load8(gr + j) * load8(w + j) * load8(xr + j);
    float dot = simd::hsum8(acc);
    for (; j < d; ++j) dot += gr[j] * w[j] * xr[j];
    const float k = s * s * dot / static_cast<float>(d);
    j = 0;
    for (; j + 8 <= d; j += 8) {
      const f8 xv = load8(xr + j), gv = load8(gr + j);
      store8(dxr + j, (load8(w + j) * gv - xv * k) * s);
      store8(dw_part + j, load8(dw_part + j) + gv * xv * s);
    }
    for (; j < d; ++j) {
      dxr[j] = s * (w[j] * gr[j] - xr[j] * k);
      dw_part[j] += gr[j] * xr[j] * s;
    }
  }
}

MUSE_SIMD_CLONES void swiglu_range(const float* g, const float* u, float* y, int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const f8 gv = load8(g + i);
    store8(y + i, gv / (1.f + simd::exp8(-gv)) * load8(u + i));
  }
  for (; i < end; ++i) y[i] = g[i] / (1.f + simd::exp1(-g[i])) * u[i];
}

// dy/du = g sigma(g), dy/dg = u sigma(g) (1 + g (1 - sigma(g))).
MUSE_SIMD_CLONES void swiglu_backward_range(const float* g, const float* u, const float* dy, float* dg, float* du,
                                            int64_t begin, int64_t end) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const f8 gv = load8(g + i), dv = load8(dy + i);
    const f8 sig = 1.f / (1.f + simd::exp8(-gv));
    store8(du + i, dv * gv * sig);
    store8(dg + i, dv * load8(u + i) * sig * (1.f + gv * (1.f - sig)));
  }
  for (; i < end; ++i) {
    const float sig = 1.f / (1.f + simd::exp1(-g[i]));
    du[i] = dy[i] * g[i] * sig;
    dg[i] = dy[i] * u[i] * sig * (1.f + g[i] * (1.f - sig));
  }
}

struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& weight_in, double eps) {
    const at::Tensor x = x_in.contiguous(), weight = weight_in.contiguous();
    const int64_t d = x.size(-1), rows = x.numel() / d;
    at::Tensor y = at::empty_like(x);
    at::Tensor rstd = at::empty({rows}, x.options());
    const float* xp = x.data_ptr<float>();
    const float* wp = weight.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, rows, grain_rows(d), [&](int64_t begin, int64_t end) {
      rms_norm_rows(xp, wp, yp, rp, begin, end, d, static_cast<float>(eps));
    });
    ctx->save_for_backward({x, weight, rstd});
    return y;
  }

  // y_j = x_j s w_j with s = (mean(x^2) + eps)^-1/2:
  //   dx_i = s (w_i g_i - x_i s^2 <g w, x> / d),   dw_j = sum over rows of g_j x_j s.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &rstd = saved[2];
    const at::Tensor g = grads[0].contiguous();
    const int64_t d = x.size(-1), rows = x.numel() / d;
    at::Tensor dx = at::empty_like(x);
    at::Tensor dw = at::zeros_like(weight);
    const float *xp = x.data_ptr<float>(), *wp = weight.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    float* dwp = dw.data_ptr<float>();
    std::mutex dw_mutex;
    at::parallel_for(0, rows, grain_rows(d), [&](int64_t begin, int64_t end) {
      std::vector<float> dw_part(static_cast<size_t>(d), 0.f);
      rms_norm_backward_rows(xp, wp, rp, gp, dxp, dw_part.data(), begin, end, d);
      std::lock_guard<std::mutex> lock(dw_mutex);
      for (int64_t j = 0; j < d; ++j) dwp[j] += dw_part[static_cast<size_t>(j)];
    });
    return {dx, dw, at::Tensor()};
  }
};

struct SwigluFunction : public torch::autograd::Function<SwigluFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in) {
    const at::Tensor gate = gate_in.contiguous(), up = up_in.contiguous();
    at::Tensor y = at::empty_like(gate);
    const float *gp = gate.data_ptr<float>(), *up_p = up.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, gate.numel(), 16384, [&](int64_t begin, int64_t end) { swiglu_range(gp, up_p, yp, begin, end); });
    ctx->save_for_backward({gate, up});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &gate = saved[0], &up = saved[1];
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dgate = at::empty_like(gate), dup = at::empty_like(up);
    const float *gp = gate.data_ptr<float>(), *up_p = up.data_ptr<float>(), *dyp = dy.data_ptr<float>();
    float *dgp = dgate.data_ptr<float>(), *dup_p = dup.data_ptr<float>();
    at::parallel_for(0, gate.numel(), 16384, [&](int64_t begin, int64_t end) {
      swiglu_backward_range(gp, up_p, dyp, dgp, dup_p, begin, end);
    });
    return {dgate, dup};
  }
};

// out[2i] = x[2i] c - x[2i+1] s, out[2i+1] = x[2i] s + x[2i+1] c with (c, s) of each (b, t, pair); the backward
// is the rotation by the opposite angle.
void rotate(const float* x, const float* cs, float* out, int64_t positions, int64_t heads, int64_t pairs, float sign) {
  at::parallel_for(0, positions, std::max<int64_t>(1, 4096 / (heads * pairs)), [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* c = cs + p * pairs * 2;  // interleaved (cos, sin) per pair: the complex tensor's memory
      for (int64_t h = 0; h < heads; ++h) {
        const float* xi = x + (p * heads + h) * pairs * 2;
        float* o = out + (p * heads + h) * pairs * 2;
        for (int64_t i = 0; i < pairs; ++i) {
          const float co = c[2 * i], si = sign * c[2 * i + 1], a = xi[2 * i], b = xi[2 * i + 1];
          o[2 * i] = a * co - b * si;
          o[2 * i + 1] = a * si + b * co;
        }
      }
    }
  });
}

struct RotateFunction : public torch::autograd::Function<RotateFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& cos_sin) {
    const at::Tensor x = x_in.contiguous();
    const int64_t heads = x.size(2), pairs = x.size(3) / 2, positions = x.size(0) * x.size(1);
    at::Tensor out = at::empty_like(x);
    rotate(x.data_ptr<float>(), cos_sin.data_ptr<float>(), out.data_ptr<float>(), positions, heads, pairs, 1.f);
    ctx->save_for_backward({cos_sin});
    return out;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor cos_sin = ctx->get_saved_variables()[0];
    const at::Tensor g = grads[0].contiguous();
    const int64_t heads = g.size(2), pairs = g.size(3) / 2, positions = g.size(0) * g.size(1);
    at::Tensor dx = at::empty_like(g);
    rotate(g.data_ptr<float>(), cos_sin.data_ptr<float>(), dx.data_ptr<float>(), positions, heads, pairs, -1.f);
    return {dx, at::Tensor()};
  }
};

}  // namespace

void set_fused_ops_enabled(bool enabled) { g_fused_enabled.store(enabled); }
bool fused_ops_enabled() { return g_fused_enabled.load(); }

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

at::Tensor swiglu_reference(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  if (!fusable(x) || !fusable(weight) || weight.dim() != 1 || weight.size(0) != x.size(-1))
    return rms_norm_reference(x, weight, eps);
  return RmsNormFunction::apply(x, weight, eps);
}

at::Tensor rotate_pairs_reference(const at::Tensor& x, const at::Tensor& rotation) {
  const auto pairs = at::view_as_complex(x.unflatten(-1, {x.size(-1) / 2, 2}));
  return at::view_as_real(pairs * rotation).flatten(-2);
}

at::Tensor rotate_pairs(const at::Tensor& x, const at::Tensor& rotation) {
  const bool shapes_fit = x.dim() == 4 && rotation.dim() == 4 && rotation.size(2) == 1 &&
                          rotation.size(0) == x.size(0) && rotation.size(1) == x.size(1) &&
                          rotation.size(3) * 2 == x.size(3);
  if (!fusable(x) || rotation.scalar_type() != at::kComplexFloat || !rotation.device().is_cpu() || !shapes_fit)
    return rotate_pairs_reference(x, rotation);
  // [B, T, 1, D/2] complex = [B, T, D/2, 2] floats: (cos, sin) interleaved per pair.
  const at::Tensor cos_sin = at::view_as_real(rotation.resolve_conj()).contiguous();
  return RotateFunction::apply(x, cos_sin);
}

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  if (!fusable(gate) || !fusable(up) || gate.sizes() != up.sizes()) return swiglu_reference(gate, up);
  return SwigluFunction::apply(gate, up);
}

}  // namespace muse

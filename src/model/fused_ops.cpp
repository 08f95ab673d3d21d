#include "model/fused_ops.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <vector>

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
      for (int64_t r = begin; r < end; ++r) {
        const float* xr = xp + r * d;
        float sum = 0.f;
        for (int64_t j = 0; j < d; ++j) sum += xr[j] * xr[j];
        const float s = 1.f / std::sqrt(sum / static_cast<float>(d) + static_cast<float>(eps));
        rp[r] = s;
        float* yr = yp + r * d;
        for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * s * wp[j];
      }
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
      for (int64_t r = begin; r < end; ++r) {
        const float *xr = xp + r * d, *gr = gp + r * d;
        const float s = rp[r];
        float dot = 0.f;
        for (int64_t j = 0; j < d; ++j) dot += gr[j] * wp[j] * xr[j];
        const float k = s * s * dot / static_cast<float>(d);
        float* dxr = dxp + r * d;
        for (int64_t j = 0; j < d; ++j) {
          dxr[j] = s * (wp[j] * gr[j] - xr[j] * k);
          dw_part[static_cast<size_t>(j)] += gr[j] * xr[j] * s;
        }
      }
      std::lock_guard<std::mutex> lock(dw_mutex);
      for (int64_t j = 0; j < d; ++j) dwp[j] += dw_part[static_cast<size_t>(j)];
    });
    return {dx, dw, at::Tensor()};
  }
};

struct SwigluFunction : public torch::autograd::Function<SwigluFunction> {
  // The sigmoid comes from ATen's vectorised kernel (a scalar exp per element costs more than the passes saved);
  // the products and the whole backward are single passes that reuse it.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& gate_in, const at::Tensor& up_in) {
    const at::Tensor gate = gate_in.contiguous(), up = up_in.contiguous();
    const at::Tensor sig = at::sigmoid(gate);
    at::Tensor y = at::empty_like(gate);
    const float *gp = gate.data_ptr<float>(), *up_p = up.data_ptr<float>(), *sp = sig.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, gate.numel(), 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) yp[i] = gp[i] * sp[i] * up_p[i];
    });
    ctx->save_for_backward({gate, up, sig});
    return y;
  }

  // y = g sigma(g) u:  dy/du = g sigma(g),  dy/dg = u sigma(g) (1 + g (1 - sigma(g))).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &gate = saved[0], &up = saved[1], &sig = saved[2];
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dgate = at::empty_like(gate), dup = at::empty_like(up);
    const float *gp = gate.data_ptr<float>(), *up_p = up.data_ptr<float>(), *sp = sig.data_ptr<float>();
    const float* dyp = dy.data_ptr<float>();
    float *dgp = dgate.data_ptr<float>(), *dup_p = dup.data_ptr<float>();
    at::parallel_for(0, gate.numel(), 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const float g = gp[i], s = sp[i], d = dyp[i];
        dup_p[i] = d * g * s;
        dgp[i] = d * up_p[i] * s * (1.f + g * (1.f - s));
      }
    });
    return {dgate, dup};
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

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
  if (!fusable(gate) || !fusable(up) || gate.sizes() != up.sizes()) return swiglu_reference(gate, up);
  return SwigluFunction::apply(gate, up);
}

}  // namespace muse

#include "training/loss.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/functional/loss.h>

#include <cmath>

#include "model/fused_ops.h"
#include "util/simd.h"

namespace muse {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

using simd::f8;
using simd::load8;
using simd::splat8;
using simd::store8;

// log sum_j e^(row_j), eight at a time (util/simd.h's e^x).
MUSE_SIMD_CLONES float log_normaliser(const float* row, int64_t V) {
  f8 m8 = splat8(row[0]);
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) {
    const f8 v = load8(row + j);
    m8 = v > m8 ? v : m8;
  }
  float max = simd::hmax8(m8);
  for (; j < V; ++j) max = std::max(max, row[j]);
  f8 acc = {};
  j = 0;
  for (; j + 8 <= V; j += 8) acc += simd::exp8(load8(row + j) - max);
  float sum = simd::hsum8(acc);
  for (; j < V; ++j) sum += simd::exp1(row[j] - max);
  return max + std::log(sum);
}

// out_j = scale * e^(row_j - log_z): the softmax, scaled.
MUSE_SIMD_CLONES void scaled_softmax(const float* row, float log_z, float scale, float* out, int64_t V) {
  int64_t j = 0;
  for (; j + 8 <= V; j += 8) store8(out + j, simd::exp8(load8(row + j) - log_z) * scale);
  for (; j < V; ++j) out[j] = scale * simd::exp1(row[j] - log_z);
}

// Mean cross-entropy over the rows whose target is >= 0, straight from the logits: the forward keeps one
// log-normaliser per row (not a [N, V] log-softmax) and the backward writes softmax - onehot in one pass, where
// ATen runs log_softmax, nll_loss, a zero-filled [N, V] gradient and log_softmax's backward.
struct CrossEntropyFunction : public torch::autograd::Function<CrossEntropyFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits_in, const at::Tensor& targets_in) {
    const at::Tensor logits = logits_in.contiguous(), targets = targets_in.contiguous();
    const int64_t N = logits.size(0), V = logits.size(1);
    at::Tensor log_z = at::empty({N}, logits.options());
    at::Tensor row_loss = at::zeros({N}, logits.options().dtype(at::kDouble));
    const float* lp = logits.data_ptr<float>();
    const int64_t* tp = targets.data_ptr<int64_t>();
    float* zp = log_z.data_ptr<float>();
    double* rp = row_loss.data_ptr<double>();
    at::parallel_for(0, N, std::max<int64_t>(1, 16384 / V), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (tp[r] < 0) continue;
        const float* row = lp + r * V;
        zp[r] = log_normaliser(row, V);
        rp[r] = static_cast<double>(zp[r]) - static_cast<double>(row[tp[r]]);
      }
    });
    const int64_t count = targets.ge(0).sum().item<int64_t>();
    ctx->save_for_backward({logits, targets, log_z});
    ctx->saved_data["count"] = count;
    return (row_loss.sum() / static_cast<double>(count)).to(at::kFloat);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &logits = saved[0], &targets = saved[1], &log_z = saved[2];
    const int64_t N = logits.size(0), V = logits.size(1);
    const float scale = grads[0].item<float>() / static_cast<float>(ctx->saved_data["count"].toInt());
    at::Tensor d = at::empty_like(logits);
    const float *lp = logits.data_ptr<float>(), *zp = log_z.data_ptr<float>();
    const int64_t* tp = targets.data_ptr<int64_t>();
    float* dp = d.data_ptr<float>();
    at::parallel_for(0, N, std::max<int64_t>(1, 16384 / V), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        float* out = dp + r * V;
        if (tp[r] < 0) {
          std::fill(out, out + V, 0.f);
          continue;
        }
        scaled_softmax(lp + r * V, zp[r], scale, out, V);
        out[tp[r]] -= scale;
      }
    });
    return {d, at::Tensor()};
  }
};

}  // namespace

at::Tensor cross_entropy_reference(const at::Tensor& logits, const at::Tensor& targets) {
  namespace F = torch::nn::functional;
  return F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().ignore_index(-1));
}

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& targets) {
  if (!fused_ops_enabled() || !logits.device().is_cpu() || logits.scalar_type() != at::kFloat || logits.dim() != 2)
    return cross_entropy_reference(logits, targets);
  return CrossEntropyFunction::apply(logits, targets);
}

LossParts language_model_loss(const at::Tensor& logits, const at::Tensor& targets, double z_loss) {
  const auto flat_logits = logits.reshape({-1, logits.size(-1)});
  const auto flat_targets = targets.reshape({-1});
  LossParts parts;
  // A micro-batch with no target token (every position masked, e.g. short rows of prompt-only text) would be a
  // mean over nothing, NaN, which stops training as "diverged": it contributes zero loss and zero gradient.
  if (!flat_targets.ge(0).any().item<bool>()) {
    parts.cross_entropy = flat_logits.sum() * 0.0;
    parts.total = parts.cross_entropy;
    return parts;
  }
  parts.cross_entropy = cross_entropy(flat_logits, flat_targets);
  parts.total = parts.cross_entropy;
  if (z_loss > 0) {
    const auto valid = flat_targets.ge(0);
    const auto log_z = flat_logits.logsumexp(-1);
    parts.total = parts.total + z_loss * log_z.pow(2).masked_select(valid).mean();
  }
  return parts;
}

}  // namespace muse

#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>

#include "util/error.h"

namespace muse {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool is_stop(int token, const std::vector<int>& stops) {
  return std::find(stops.begin(), stops.end(), token) != stops.end();
}

}  // namespace

Generator::Generator(Transformer model, torch::Device device) : model_(std::move(model)), device_(device) {
  model_->eval();
}

torch::Tensor Generator::positions_tensor(const std::vector<const TokenSequence*>& rows) const {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0]->size());
  auto positions = torch::empty({B, T, 3}, torch::kInt64);
  auto* out = positions.data_ptr<int64_t>();
  for (const auto* row : rows)
    for (const auto& p : row->positions) {
      *out++ = p[0];
      *out++ = p[1];
      *out++ = p[2];
    }
  return positions.to(device_);
}

torch::Tensor Generator::patches_tensor(const std::vector<const TokenSequence*>& rows) const {
  std::vector<float> pixels;
  int64_t dim = 0;
  for (const auto* row : rows) {
    if (row->patch_count() == 0) continue;
    dim = row->patch_dim;
    pixels.insert(pixels.end(), row->patches.begin(), row->patches.end());
  }
  if (dim == 0) return {};
  return torch::tensor(pixels, torch::kFloat32).view({-1, dim}).to(device_);
}

GenerationResult Generator::generate(const TokenSequence& prompt, const SamplingParams& params,
                                     const TokenCallback& on_token) {
  params.validate();
  GenerationResult result;
  const int64_t max_len = model_->config().max_seq_len;
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt_len == 0) throw MuseError("generate: empty prompt");
  if (prompt_len >= max_len)
    throw MuseError("prompt is " + std::to_string(prompt_len) + " tokens; this model's context is " +
                    std::to_string(max_len));
  const int64_t vocab_size = model_->config().vocab_size;
  for (int id : params.stop_tokens)
    if (id < 0 || id >= vocab_size) throw MuseError("stop token " + std::to_string(id) + " is outside the vocabulary");
  if (params.think_end_token >= vocab_size)
    throw MuseError("think_end_token " + std::to_string(params.think_end_token) + " is outside the vocabulary");
  torch::NoGradGuard no_grad;
  auto cache = KVCache::allocate(model_->config(), 1, std::min<int64_t>(max_len, prompt_len + params.max_tokens),
                                 device_);
  Rng rng(params.seed);

  auto start = std::chrono::steady_clock::now();
  auto tokens = torch::tensor(std::vector<int64_t>(prompt.tokens.begin(), prompt.tokens.end()), torch::kInt64)
                    .view({1, prompt_len})
                    .to(device_);
  auto logits = model_->forward({tokens, positions_tensor({&prompt}), {}, patches_tensor({&prompt})}, &cache)
                    .select(1, prompt_len - 1);
  result.prefill_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  int32_t t = prompt.next_t();
  result.finish_reason = "length";
  bool thinking = params.think_end_token >= 0;
  for (int i = 0; i < params.max_tokens; ++i) {
    auto row = logits.to(torch::kCPU, torch::kFloat32).contiguous();
    float* scores = row.data_ptr<float>();
    const int vocab = static_cast<int>(row.size(-1));
    int token;
    const bool force_end = thinking && params.max_thinking_tokens >= 0 &&
                           result.thinking_tokens >= params.max_thinking_tokens;
    if (force_end) {
      token = params.think_end_token;  // budget spent: close the thinking span, the answer follows
    } else {
      if (thinking && result.thinking_tokens < params.min_thinking_tokens) {
        // Budget forcing: the model may not stop thinking (or stop altogether) before the minimum.
        scores[params.think_end_token] = -std::numeric_limits<float>::infinity();
        for (int stop : params.stop_tokens) scores[stop] = -std::numeric_limits<float>::infinity();
      }
      token = sample_token(scores, vocab, params, rng);
    }
    result.tokens.push_back(token);
    result.forced.push_back(force_end);
    if (thinking) {
      if (token == params.think_end_token) thinking = false;
      else ++result.thinking_tokens;
    }
    if (on_token && !on_token(token)) {
      result.finish_reason = "cancelled";
      break;
    }
    if (is_stop(token, params.stop_tokens)) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 == params.max_tokens) break;
    if (cache.length >= cache.capacity) {
      result.finish_reason = "context";
      break;
    }
    auto next = torch::full({1, 1}, static_cast<int64_t>(token), torch::kInt64).to(device_);
    logits = model_->forward({next, text_positions(t++, 1, device_)}, &cache).select(1, 0);
  }
  result.decode_seconds = seconds_since(start);
  return result;
}

void ThinkingBudget::validate() const {
  SamplingParams p;  // one set of rules for both decoders
  p.think_end_token = think_end_token;
  p.max_thinking_tokens = max_thinking_tokens;
  p.min_thinking_tokens = min_thinking_tokens;
  p.validate();
}

std::vector<GenerationResult> Generator::generate_greedy_batch(const std::vector<TokenSequence>& prompts,
                                                               int max_tokens, const std::vector<int>& stop_tokens,
                                                               int max_batch) {
  return generate_greedy_batch(prompts, max_tokens, stop_tokens, ThinkingBudget{}, max_batch);
}

std::vector<GenerationResult> Generator::generate_greedy_batch(const std::vector<TokenSequence>& prompts,
                                                               int max_tokens, const std::vector<int>& stop_tokens,
                                                               const ThinkingBudget& budget, int max_batch) {
  budget.validate();
  if (max_tokens < 0) throw MuseError("max_tokens must be >= 0, got " + std::to_string(max_tokens));
  if (max_batch < 1) throw MuseError("max_batch must be >= 1, got " + std::to_string(max_batch));
  const int64_t vocab_size = model_->config().vocab_size;
  for (int id : stop_tokens)
    if (id < 0 || id >= vocab_size) throw MuseError("stop token " + std::to_string(id) + " is outside the vocabulary");
  if (budget.think_end_token >= vocab_size)
    throw MuseError("think_end_token " + std::to_string(budget.think_end_token) + " is outside the vocabulary");
  const bool budgeted = budget.think_end_token >= 0;
  const int think_end = budget.think_end_token;
  std::vector<GenerationResult> results(prompts.size());
  // Prompts of equal length whose continuations start at the same t share one batch with no padding.
  std::map<std::pair<size_t, int32_t>, std::vector<size_t>> by_length;
  for (size_t i = 0; i < prompts.size(); ++i) by_length[{prompts[i].size(), prompts[i].next_t()}].push_back(i);
  torch::NoGradGuard no_grad;
  const int64_t max_len = model_->config().max_seq_len;
  const float minus_infinity = -std::numeric_limits<float>::infinity();

  for (const auto& [shape, all_indices] : by_length) {
    const size_t length = shape.first;
    if (length == 0) throw MuseError("generate: empty prompt");
    if (static_cast<int64_t>(length) >= max_len)
      throw MuseError("prompt is " + std::to_string(length) + " tokens; this model's context is " +
                      std::to_string(max_len));
    for (size_t begin = 0; begin < all_indices.size(); begin += static_cast<size_t>(max_batch)) {
      const std::vector<size_t> indices(all_indices.begin() + begin,
                                        all_indices.begin() + std::min(all_indices.size(), begin + max_batch));
      const int64_t B = static_cast<int64_t>(indices.size()), T = static_cast<int64_t>(length);
      std::vector<const TokenSequence*> rows;
      std::vector<int64_t> flat;
      for (size_t idx : indices) {
        rows.push_back(&prompts[idx]);
        flat.insert(flat.end(), prompts[idx].tokens.begin(), prompts[idx].tokens.end());
      }
      // As in generate(): the cache holds the prompt and up to max_tokens more, within the context; when the
      // context runs out first, the token predicted at its last position is still emitted ("context").
      const int64_t steps = std::min<int64_t>(max_tokens, max_len - T + 1);
      auto start = std::chrono::steady_clock::now();
      auto cache = KVCache::allocate(model_->config(), B, std::min<int64_t>(max_len, T + max_tokens), device_);
      auto logits = model_->forward({torch::tensor(flat, torch::kInt64).view({B, T}).to(device_),
                                     positions_tensor(rows), {}, patches_tensor(rows)},
                                    &cache)
                        .select(1, T - 1);
      const double prefill_seconds = seconds_since(start);
      start = std::chrono::steady_clock::now();
      std::vector<bool> done(indices.size(), false), thinking(indices.size(), budgeted);
      size_t remaining = indices.size();
      int32_t t = prompts[indices[0]].next_t();
      for (int64_t step = 0; step < steps && remaining > 0; ++step) {
        // Below the minimum, the end of thinking and the stop tokens are out of reach (budget forcing).
        std::vector<int64_t> suppressed_rows;
        for (size_t r = 0; r < indices.size(); ++r)
          if (!done[r] && thinking[r] && results[indices[r]].thinking_tokens < budget.min_thinking_tokens)
            suppressed_rows.push_back(static_cast<int64_t>(r));
        if (!suppressed_rows.empty()) {
          std::vector<int64_t> banned(stop_tokens.begin(), stop_tokens.end());
          banned.push_back(think_end);
          auto row_index = torch::tensor(suppressed_rows, torch::kInt64).to(device_);
          auto column_index = torch::tensor(banned, torch::kInt64).to(device_);
          logits = logits.clone();
          logits.index_put_({row_index.unsqueeze(1), column_index.unsqueeze(0)}, minus_infinity);
        }
        auto next = logits.argmax(-1).to(torch::kCPU).contiguous();
        auto* ids = next.data_ptr<int64_t>();
        for (size_t r = 0; r < indices.size(); ++r) {
          if (done[r]) continue;
          auto& res = results[indices[r]];
          const bool force_end =
              thinking[r] && budget.max_thinking_tokens >= 0 && res.thinking_tokens >= budget.max_thinking_tokens;
          if (force_end) ids[r] = think_end;  // budget spent: close the thinking span, the answer follows
          const int token = static_cast<int>(ids[r]);
          res.tokens.push_back(token);
          res.forced.push_back(force_end);
          if (thinking[r]) {
            if (token == think_end) thinking[r] = false;
            else ++res.thinking_tokens;
          }
          if (is_stop(token, stop_tokens)) {
            res.finish_reason = "stop";
            done[r] = true;
            --remaining;
          }
        }
        if (remaining == 0 || step + 1 == steps) break;
        auto positions = text_positions(t++, 1, device_).expand({B, 1, 3});
        logits = model_->forward({next.view({B, 1}).to(device_), positions}, &cache).select(1, 0);
      }
      const double decode_seconds = seconds_since(start);
      for (size_t r = 0; r < indices.size(); ++r) {
        auto& res = results[indices[r]];
        if (!done[r]) res.finish_reason = steps < max_tokens ? "context" : "length";
        // Each row reports the time of the batch it was decoded in.
        res.prefill_seconds = prefill_seconds;
        res.decode_seconds = decode_seconds;
      }
    }
  }
  return results;
}

}  // namespace muse

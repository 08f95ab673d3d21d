#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace muse::server {

namespace {

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

std::string metric(const std::string& name, const std::string& type, const std::string& help,
                   const std::string& value, const std::string& labels = "") {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + labels + " " + value + "\n";
}

}  // namespace

LatencyHistogram::LatencyHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void LatencyHistogram::observe(double seconds) {
  const size_t bucket =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += seconds;
  ++count_;
}

std::string LatencyHistogram::prometheus(const std::string& name, const std::string& help) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out = "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  int64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  return out + name + "_sum " + number(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

void ServerCounters::count_response(int status) {
  std::lock_guard<std::mutex> lock(status_mutex_);
  ++responses_[status];
}

std::string ServerCounters::prometheus(const EngineStats& e, const std::string& model) const {
  std::string out = metric("muse_info", "gauge", "The served model.", "1", "{model=\"" + model + "\"}");
  {
    std::lock_guard<std::mutex> lock(status_mutex_);
    out += "# HELP muse_http_responses_total HTTP responses sent, by status code.\n"
           "# TYPE muse_http_responses_total counter\n";
    for (const auto& [status, n] : responses_)
      out += "muse_http_responses_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  out += metric("muse_chat_completions_total", "counter", "Chat completions answered (plain or streamed).",
                std::to_string(completions.load()));
  out += metric("muse_streams_abandoned_total", "counter", "Streams whose client went away (work cancelled).",
                std::to_string(streams_abandoned.load()));
  out += metric("muse_prompt_tokens_total", "counter", "Prompt tokens of answered requests.",
                std::to_string(prompt_tokens.load()));
  out += metric("muse_completion_tokens_total", "counter", "Generated tokens, thinking included.",
                std::to_string(completion_tokens.load()));
  out += metric("muse_reasoning_tokens_total", "counter", "Generated tokens inside the thinking span.",
                std::to_string(reasoning_tokens.load()));
  out += metric("muse_prompt_tokens_cached_total", "counter",
                "Prompt tokens whose KV the prefix cache held (cache hits, in tokens; not prefilled again).",
                std::to_string(cached_prompt_tokens.load()));
  out += metric("muse_prefix_cache_blocks", "gauge", "KV blocks the prefix cache keeps.",
                std::to_string(e.prefix_cache_blocks));
  out += metric("muse_prefix_cache_evictions_total", "counter", "Cached blocks evicted to make room.",
                std::to_string(e.prefix_cache_evictions));
  out += metric("muse_requests_running", "gauge", "Sequences decoding now.", std::to_string(e.running));
  out += metric("muse_requests_queued", "gauge", "Sequences waiting for admission.", std::to_string(e.queued));
  out += metric("muse_requests_parked", "gauge", "Sequences paused on a pause token.", std::to_string(e.parked));
  out += metric("muse_kv_cache_bytes_in_use", "gauge", "Bytes of the KV pool in use.", std::to_string(e.kv_bytes_in_use));
  out += metric("muse_kv_cache_bytes_capacity", "gauge", "Bytes of the KV pool.", std::to_string(e.kv_bytes_capacity));
  out += metric("muse_kv_cache_usage_ratio", "gauge", "KV pool in use / capacity.",
                number(e.kv_bytes_capacity > 0 ? static_cast<double>(e.kv_bytes_in_use) /
                                                     static_cast<double>(e.kv_bytes_capacity)
                                               : 0.0));
  out += metric("muse_engine_steps_total", "counter", "Engine steps.", std::to_string(e.steps));
  out += metric("muse_engine_sampled_tokens_total", "counter", "Tokens the engine sampled.",
                std::to_string(e.sampled_tokens));
  out += time_to_first_token.prometheus("muse_time_to_first_token_seconds",
                                        "Streamed requests: from the request to its first generated token.");
  out += time_per_output_token.prometheus("muse_time_per_output_token_seconds",
                                          "Streamed requests: time between consecutive tokens of a choice.");
  return out;
}

}  // namespace muse::server

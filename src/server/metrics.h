// What the server counts, for GET /health (a few numbers) and GET /metrics (Prometheus text format): requests
// by status, tokens, streams abandoned, and latency histograms of streamed answers (time to the first token,
// time between tokens). The engine's own state (running, queued, KV use) is read at scrape time.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace muse::server {

// A Prometheus histogram with fixed upper bounds (seconds); thread-safe.
class LatencyHistogram {
 public:
  explicit LatencyHistogram(std::vector<double> bounds);
  void observe(double seconds);
  // "NAME_bucket{le="..."} N" lines (cumulative), NAME_sum, NAME_count, after HELP and TYPE lines.
  std::string prometheus(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<int64_t> counts_;  // per bucket, the last one +Inf
  double sum_ = 0.0;
  int64_t count_ = 0;
};

struct ServerCounters {
  std::atomic<int64_t> completions{0};        // chat completions answered (plain or streamed)
  std::atomic<int64_t> streams_abandoned{0};  // streams whose client went away (their sequences cancelled)
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> completion_tokens{0};  // thinking included
  std::atomic<int64_t> reasoning_tokens{0};
  std::atomic<int64_t> cached_prompt_tokens{0};  // prompt tokens the prefix cache held (not prefilled)
  LatencyHistogram time_to_first_token{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  LatencyHistogram time_per_output_token{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};

  // Every HTTP response, by status code (the server's logger calls this after each one).
  void count_response(int status);
  // The whole exposition: these counters, the histograms and the engine's gauges.
  std::string prometheus(const EngineStats& engine, const std::string& model) const;

 private:
  mutable std::mutex status_mutex_;
  std::map<int, int64_t> responses_;
};

}  // namespace muse::server

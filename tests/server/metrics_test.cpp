// The /metrics exposition: histogram buckets are cumulative with the bound they belong to, counters and gauges
// appear once each with HELP and TYPE, responses are counted by status.
#include "server/metrics.h"

#include <gtest/gtest.h>

using namespace muse;
using namespace muse::server;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

}  // namespace

TEST(Metrics, HistogramBucketsAreCumulativeAndInclusive) {
  LatencyHistogram h({0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 7.0}) h.observe(v);
  const std::string text = h.prometheus("x_seconds", "a test");
  EXPECT_TRUE(has_line(text, "# TYPE x_seconds histogram")) << text;
  EXPECT_TRUE(has_line(text, "x_seconds_bucket{le=\"0.01\"} 2")) << text;  // 0.01 itself is within le=0.01
  EXPECT_TRUE(has_line(text, "x_seconds_bucket{le=\"0.1\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "x_seconds_bucket{le=\"1\"} 4")) << text;
  EXPECT_TRUE(has_line(text, "x_seconds_bucket{le=\"+Inf\"} 5")) << text;
  EXPECT_TRUE(has_line(text, "x_seconds_count 5")) << text;
  EXPECT_TRUE(has_line(text, "x_seconds_sum 7.565")) << text;
}

TEST(Metrics, ExpositionHasCountersGaugesAndResponsesByStatus) {
  ServerCounters c;
  c.completions = 3;
  c.prompt_tokens = 40;
  c.count_response(200);
  c.count_response(200);
  c.count_response(401);
  c.time_to_first_token.observe(0.02);
  EngineStats e;
  e.running = 2;
  e.kv_bytes_in_use = 25;
  e.kv_bytes_capacity = 100;
  const std::string text = c.prometheus(e, "default");
  EXPECT_TRUE(has_line(text, "muse_info{model=\"default\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "muse_chat_completions_total 3")) << text;
  EXPECT_TRUE(has_line(text, "muse_prompt_tokens_total 40")) << text;
  EXPECT_TRUE(has_line(text, "muse_http_responses_total{code=\"200\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "muse_http_responses_total{code=\"401\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "muse_requests_running 2")) << text;
  EXPECT_TRUE(has_line(text, "muse_kv_cache_usage_ratio 0.25")) << text;
  EXPECT_TRUE(has_line(text, "muse_time_to_first_token_seconds_count 1")) << text;
  // Every metric family is introduced once.
  size_t types = 0;
  for (size_t at = 0; (at = text.find("# TYPE muse_chat_completions_total", at)) != std::string::npos; ++at) ++types;
  EXPECT_EQ(types, 1u);
}

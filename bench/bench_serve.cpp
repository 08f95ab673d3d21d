// Load on `muse serve`: N concurrent streaming clients on loopback against the real server (in process, the
// shipped model by default), then the bare engine on the same prompts, side by side: what HTTP, JSON and SSE cost.
//   bench_serve [--model DIR] [--clients 64] [--rounds 2] [--max-tokens 48] [--kv-mem MiB] [--http-threads N]
// Each client sends --rounds streaming chat completions one after another (greedy; arithmetic prompts of its own)
// and reads every SSE chunk. Reported: errors (any non-200, a stream without [DONE], a missing usage chunk),
// completion tokens/s over the whole run, time to first token and the gap between tokens (p50 / p99, from the
// client's clock), then the engine's own tokens/s for the same prompts and max_tokens in one batch.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_cli.h"
#include "runtime/runtime.h"
#include "server/server.h"
#include "tokenizer/chat_format.h"
#include "util/rng.h"

using namespace muse;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

struct ClientStats {
  std::vector<double> ttft_ms, gap_ms;
  int64_t completion_tokens = 0;
  int errors = 0;
  std::string first_error;
};

std::string prompt_for(int client, int round) {
  Rng rng(seed_mix(static_cast<uint64_t>(client), static_cast<uint64_t>(round), 0xbe9c));
  return std::to_string(rng.uniform_int(10, 999)) + "+" + std::to_string(rng.uniform_int(10, 999));
}

// One streamed completion: the chunk times and the usage chunk's completion tokens.
void stream_once(int port, const std::string& system, const std::string& prompt, int max_tokens, ClientStats& stats) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(600, 0);
  json messages = json::array({{{"role", "user"}, {"content", prompt}}});
  if (!system.empty()) messages.insert(messages.begin(), json{{"role", "system"}, {"content", system}});
  const json body{{"messages", messages},
                  {"max_tokens", max_tokens},
                  {"stream", true},
                  {"stream_options", {{"include_usage", true}}}};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string buffer;
  bool done = false, usage = false;
  int64_t tokens = 0;
  Clock::time_point last{};
  const auto sent = Clock::now();
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    buffer.append(data, size);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
      const std::string event = buffer.substr(0, end);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      const json chunk = json::parse(payload, nullptr, false);
      if (chunk.is_discarded()) continue;
      if (chunk.contains("usage") && chunk["usage"].is_object()) {
        usage = true;
        tokens = chunk["usage"].value("completion_tokens", int64_t{0});
      }
      if (!chunk.contains("choices") || chunk["choices"].empty()) continue;
      const json& delta = chunk["choices"][0]["delta"];
      if (!delta.contains("content") && !delta.contains("reasoning_content")) continue;
      const auto now = Clock::now();
      if (last == Clock::time_point{}) stats.ttft_ms.push_back(ms(now - sent));
      else stats.gap_ms.push_back(ms(now - last));
      last = now;
    }
    return true;
  };
  auto result = client.send(req);
  const int status = result ? result->status : -1;
  if (status != 200 || !done || !usage) {
    ++stats.errors;
    if (stats.first_error.empty())
      stats.first_error = (result ? "HTTP " + std::to_string(status) : "no response: " + httplib::to_string(result.error())) +
                          (done ? "" : ", no [DONE]") + (usage ? "" : ", no usage");
    return;
  }
  stats.completion_tokens += tokens;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load on muse serve: concurrent streaming clients vs the bare engine", "bench_serve"};
  std::string model_dir = "models/default";
  int clients = 64, rounds = 2, max_tokens = 48, http_threads = 0;
  int64_t kv_mib = 256;
  app.add_option("--model", model_dir, "model directory")->capture_default_str();
  app.add_option("--clients", clients, "concurrent streaming clients")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--rounds", rounds, "requests per client, one after another")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--max-tokens", max_tokens, "max_tokens of every request")->capture_default_str()->check(CLI::Range(1, 4096));
  app.add_option("--kv-mem", kv_mib, "MiB of KV pool")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app.add_option("--http-threads", http_threads, "HTTP worker threads (0 = clients + 4)")->capture_default_str();
  std::string system, prefix_cache = "on";
  app.add_option("--system", system, "a system prompt every request begins with (what the prefix cache reuses)");
  app.add_option("--prefix-cache", prefix_cache, "reuse the KV of prompts seen before: on | off")
      ->capture_default_str()->check(CLI::IsMember({"on", "off"}));
  muse::bench::parse_command_line(app, argc, argv);
  try {
    configure_threads(ThreadParams{});
    server::ServerOptions options;
    options.port = 0;
    options.kv_mem = kv_mib << 20;
    options.http_threads = http_threads > 0 ? http_threads : clients + 4;
    options.max_queued = 0;  // the benchmark measures throughput, not the queue bound
    options.prefix_cache = prefix_cache == "on";
    server::Server srv(load_model_dir(model_dir, torch::kCPU), options);
    const int port = srv.bind();
    std::thread listener([&] { srv.listen(); });

    ClientStats warm;
    stream_once(port, "", "1+1", 8, warm);  // first-request costs (thread pools, allocations) stay out of the numbers
    std::vector<ClientStats> stats(static_cast<size_t>(clients));
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        for (int r = 0; r < rounds; ++r)
          stream_once(port, system, prompt_for(c, r), max_tokens, stats[static_cast<size_t>(c)]);
      });
    for (auto& t : threads) t.join();
    const double http_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    srv.stop();
    listener.join();

    ClientStats all;
    for (const auto& s : stats) {
      all.ttft_ms.insert(all.ttft_ms.end(), s.ttft_ms.begin(), s.ttft_ms.end());
      all.gap_ms.insert(all.gap_ms.end(), s.gap_ms.begin(), s.gap_ms.end());
      all.completion_tokens += s.completion_tokens;
      all.errors += s.errors;
      if (all.first_error.empty()) all.first_error = s.first_error;
    }

    // The same prompts and limits on a bare engine, one batch per round (every client's request at once).
    const auto loaded = load_model_dir(model_dir, torch::kCPU);
    Engine engine(loaded.model, torch::kCPU, [&] {
      EngineOptions o = EngineOptions::for_device(torch::kCPU);
      o.kv_mem = kv_mib << 20;
      return o;
    }());
    RequestParams params;
    params.sampling.max_tokens = max_tokens;
    params.sampling.stop_tokens = {loaded.tokenizer.special(Special::EndOfTurn), loaded.tokenizer.eos()};
    params.sampling.think_end_token = loaded.tokenizer.special(Special::ThinkEnd);
    RenderOptions render;
    render.vision = vision_params(loaded.config);
    int64_t engine_tokens = 0;
    const auto engine_start = Clock::now();
    for (int r = 0; r < rounds; ++r) {
      std::vector<Prompt> prompts;
      for (int c = 0; c < clients; ++c)
      {
        std::vector<Message> messages;
        if (!system.empty()) messages.push_back(Message{Role::System, {text_segment(system)}, ""});
        messages.push_back(Message{Role::User, {text_segment(prompt_for(c, r))}, ""});
        prompts.push_back(Prompt::of(render_conversation(loaded.tokenizer, messages, /*generation_prompt=*/true, render)));
      }
      for (const auto& result : engine.run_batch(prompts, params)) engine_tokens += static_cast<int64_t>(result.tokens.size());
    }
    const double engine_seconds = std::chrono::duration<double>(Clock::now() - engine_start).count();

    const int requests = clients * rounds;
    std::printf("| what | requests | errors | completion tokens | seconds | tokens/s | TTFT p50 / p99 (ms) | "
                "gap p50 / p99 (ms) |\n|---|---|---|---|---|---|---|---|\n");
    std::printf("| muse serve, %d streaming clients | %d | %d | %lld | %.1f | %.0f | %.0f / %.0f | %.1f / %.1f |\n",
                clients, requests, all.errors, static_cast<long long>(all.completion_tokens), http_seconds,
                static_cast<double>(all.completion_tokens) / http_seconds, percentile(all.ttft_ms, 0.5),
                percentile(all.ttft_ms, 0.99), percentile(all.gap_ms, 0.5), percentile(all.gap_ms, 0.99));
    std::printf("| bare engine, %d at once | %d | 0 | %lld | %.1f | %.0f | – | – |\n", clients, requests,
                static_cast<long long>(engine_tokens), engine_seconds,
                static_cast<double>(engine_tokens) / engine_seconds);
    if (all.errors > 0) {
      std::fprintf(stderr, "bench_serve: %d of %d requests failed (first: %s)\n", all.errors, requests,
                   all.first_error.c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    return muse::bench::report_error("bench_serve", e);
  }
}

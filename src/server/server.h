// `muse serve`: an OpenAI-compatible HTTP server over one Engine shared by every request, so concurrent clients
// are decoded together (continuous batching). Routes: POST /v1/chat/completions (plain or SSE-streamed; n > 1
// prefills the prompt once and forks it), POST /v1/chat/completions/{id}/answer_now (a running request ends its
// thinking and answers), GET /v1/models, GET /health, GET /metrics (Prometheus text: server/metrics.h), and the
// Muse app (app/, embedded) at GET /.
//
//   Server server(load_model_dir(dir, torch::kCPU), options);
//   int port = server.bind();   // options.port 0 = an ephemeral port
//   server.listen();            // blocks until stop() (any thread; cmd_serve calls it on Ctrl-C)
//
// Every failure inside a route becomes an OpenAI error body (openai.h) at the route boundary; the server never
// dies on a request. A streaming client that goes away cancels its sequences.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "model/weights.h"
#include "server/active_requests.h"
#include "server/openai.h"
#include "server/stream.h"

namespace httplib {
class Server;
}

namespace muse::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback by default: exposing a server is an explicit choice
  int port = 8080;                 // 0 = any free port (tests)
  std::string api_key;             // non-empty: every /v1 route needs "Authorization: Bearer KEY"
  std::string model_name;          // the id in /v1/models and the accepted "model" ("" = the model dir's name)
  int64_t kv_mem = int64_t{256} << 20;  // bytes of the engine's KV pool
  bool prefix_cache = true;              // reuse the KV of prompts seen before (usage: cached_tokens)
  size_t max_body_bytes = 16u << 20;    // larger bodies get 413 (images come inline, base64)
  int read_timeout_s = 15;              // a client that stalls mid-request is dropped
  int write_timeout_s = 30;
  int http_threads = 16;                // connections served at once (a stream holds one for its duration)
  // Sequences waiting for the engine beyond which a new chat completion gets 429 (Retry-After) instead of
  // queueing without bound; 0 = no bound.
  int max_queued = 64;
  // CORS: empty = off (browsers on other origins cannot call the API); "*" or one origin = that
  // Access-Control-Allow-Origin on every response, and OPTIONS preflights answered.
  std::string cors_origin;
  std::string device = "cpu";
  RequestLimits limits;                 // images are refused for text-only models whatever this says
};

class Server {
 public:
  Server(LoadedModel model, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: an ephemeral one) and returns the port. MuseError when the address is taken.
  int bind();
  // Serves until stop(). Call bind() first.
  void listen();
  // Thread-safe; returns at once, listen() returns soon after.
  void stop();

  const std::string& model_name() const { return options_.model_name; }
  Engine& engine() { return *engine_; }
  const ServerCounters& counters() const { return counters_; }

 private:
  void install_routes();
  LoadedModel loaded_;
  ServerOptions options_;
  // Declared before http_, so they outlive the HTTP workers that use them.
  std::unique_ptr<Engine> engine_;
  ServerCounters counters_;
  ActiveRequests active_;
  std::atomic<uint64_t> next_request_{1};
  std::unique_ptr<httplib::Server> http_;
};

}  // namespace muse::server

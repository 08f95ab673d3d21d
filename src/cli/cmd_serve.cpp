// muse serve: the OpenAI-compatible server (src/server/). Ctrl-C or SIGTERM stops it cleanly.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "server/server.h"
#include "util/error.h"
#include "util/log.h"

namespace muse::cli {

std::string default_model_dir();  // cmd_generate.cpp

namespace {

struct ServeOptions {
  std::string model_dir;
  int64_t kv_mem_mib = 256;
  server::ServerOptions server;
  RuntimeOptions runtime;
};

volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

void serve(ServeOptions& o) {
  // The handler only sets a flag; a watcher thread stops the server (stopping it is not async-signal-safe, and
  // sigwait cannot be used: threads that libraries start before main, e.g. OpenBLAS's, would take the signal).
  // Installed explicitly: a shell starts background jobs with SIGINT ignored.
  stop_requested = 0;
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is an error on write, not the end of the server

  apply_runtime_options(o.runtime);
  if (o.model_dir.empty()) o.model_dir = default_model_dir();
  o.server.kv_mem = o.kv_mem_mib << 20;
  o.server.device = o.runtime.device;
  server::Server server(load_model_dir(o.model_dir, parse_device(o.runtime.device)), o.server);
  const int port = server.bind();

  std::atomic<bool> listening{true};
  std::thread watcher([&] {
    while (listening) {
      if (stop_requested) {
        log_info("serve", "stopping");
        server.stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const std::string url = "http://" + o.server.host + ":" + std::to_string(port);
  std::cout << "muse serve: model '" << server.model_name() << "'\n  the Muse app:  " << url
            << "/   (open it in a browser)\n  the API:       " << url << "/v1   (OpenAI-compatible)\nCtrl-C stops."
            << std::endl;
  auto finish = [&] {
    listening = false;
    watcher.join();
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  };
  try {
    server.listen();
  } catch (...) {
    finish();
    throw;
  }
  finish();
  std::cout << "muse serve: stopped" << std::endl;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions)");
  cmd->add_option("--model", o->model_dir, "model directory (default: models/default)");
  cmd->add_option("--host", o->server.host, "address to listen on (0.0.0.0 exposes it to the network)")
      ->capture_default_str();
  cmd->add_option("--port", o->server.port, "TCP port (0 = any free port)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o->server.api_key, "require 'Authorization: Bearer KEY' on every /v1 route");
  cmd->add_option("--model-name", o->server.model_name, "the model id clients send (default: the directory's name)");
  cmd->add_option("--kv-mem", o->kv_mem_mib, "MiB of KV cache shared by all requests")->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("!--no-prefix-cache", o->server.prefix_cache,
                "prefill every prompt in full (by default the KV of prompts seen before is reused)");
  cmd->add_option("--max-body-bytes", o->server.max_body_bytes, "largest request body (larger: 413)")
      ->capture_default_str();
  cmd->add_option("--max-queued", o->server.max_queued,
                  "requests waiting for the engine beyond which new ones get 429 (0 = no bound)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--cors-origin", o->server.cors_origin,
                  "allow browsers on this origin (or *) to call the API; off by default");
  cmd->add_option("--http-threads", o->server.http_threads, "connections served at once")->capture_default_str()
      ->check(CLI::Range(1, 1024));
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] { serve(*o); });
}

}  // namespace muse::cli

#include "server/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <random>

#include <c10/util/Exception.h>

#include "model/config.h"
#include "runtime/runtime.h"
#include "server/app_assets.h"
#include "server/contemplation.h"
#include "server/sub_agents.h"
#include "util/log.h"

namespace muse::server {

namespace {
constexpr int kListenBacklog = 1024;  // connections the kernel holds until a worker accepts them
}  // namespace
using nlohmann::json;

namespace {

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}
void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status, error_json(e)); }

// The route boundary: whatever a route throws becomes an OpenAI error response, never a dead server.
template <class Route>
void guarded(const httplib::Request& req, httplib::Response& res, Route&& route) {
  try {
    route();
  } catch (const ApiError& e) {
    send_error(res, e);
  } catch (const MuseError& e) {
    send_error(res, api_error_from(e));
  } catch (const c10::Error& e) {
    log_error("serve", "%s %s: %s", req.method.c_str(), req.path.c_str(), e.what_without_backtrace());
    send_error(res, ApiError(500, "server_error", "", "", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    log_error("serve", "%s %s: %s", req.method.c_str(), req.path.c_str(), e.what());
    send_error(res, ApiError(500, "server_error", "", "", e.what()));
  } catch (...) {
    send_error(res, ApiError(500, "server_error", "", "", "unknown internal error"));
  }
}

// Constant-time comparison: the key's bytes do not leak through response timing.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

std::string served_name(const ServerOptions& options, const std::string& dir) {
  if (!options.model_name.empty()) return options.model_name;
  auto path = std::filesystem::path(dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().empty() ? "muse" : path.filename().string();
}

}  // namespace

Server::Server(LoadedModel model, ServerOptions options) : loaded_(std::move(model)), options_(std::move(options)) {
  options_.model_name = served_name(options_, loaded_.dir);
  const auto device = parse_device(options_.device);
  EngineOptions engine_options = EngineOptions::for_device(device);
  engine_options.kv_mem = options_.kv_mem;
  engine_options.prefix_cache = options_.prefix_cache;  // the served weights never change
  const Tokenizer* tok = &loaded_.tokenizer;
  engine_options.token_text = [tok](int id) { return tok->decode({id}); };  // for stop strings
  engine_ = std::make_unique<Engine>(loaded_.model, device, engine_options);
  engine_->start();

  http_ = std::make_unique<httplib::Server>();
  const int threads = std::max(1, options_.http_threads);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_read_timeout(options_.read_timeout_s, 0);
  http_->set_write_timeout(options_.write_timeout_s, 0);
  http_->set_keep_alive_max_count(100);
  http_->set_keep_alive_timeout(5);
  install_routes();
}

Server::~Server() {
  stop();
  if (engine_) engine_->stop();
}

int Server::bind() {
  // Debian's cpp-httplib listens with a backlog of 5 (compiled into the library): a burst of clients connecting
  // at once overflows the accept queue and some of them see their connection dropped (bench_serve, 64 clients).
  // The socket it creates passes through the options hook, so raise the backlog on it once bound.
  int listening = -1;
  http_->set_socket_options([&listening](socket_t sock) {
    httplib::default_socket_options(sock);
    listening = static_cast<int>(sock);
  });
  const int port = options_.port == 0 ? http_->bind_to_any_port(options_.host)
                                      : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  if (port <= 0)
    throw MuseError("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                    " (address in use, or not an address of this machine)");
  if (listening >= 0) ::listen(listening, kListenBacklog);
  options_.port = port;
  return port;
}

void Server::listen() {
  if (!http_->listen_after_bind() && http_->is_running())
    throw MuseError("the HTTP server stopped unexpectedly", ErrorKind::Internal);
}

void Server::stop() {
  if (http_) http_->stop();
}

void Server::install_routes() {
  const size_t max_body = options_.max_body_bytes;
  // Runs before the body is read: unauthenticated or chunked requests never make the server read a body.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!options_.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options_.cors_origin);
      if (req.method == "OPTIONS") {  // a preflight: answered here, before auth (browsers send no key with it)
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!options_.api_key.empty() && req.path.rfind("/v1/", 0) == 0) {
      const std::string header = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      const bool ok = header.rfind(prefix, 0) == 0 && same_secret(header.substr(prefix.size()), options_.api_key);
      if (!ok) {
        send_error(res, ApiError(401, "invalid_request_error", "", "invalid_api_key",
                                 header.empty() ? "missing API key: send Authorization: Bearer KEY"
                                                : "incorrect API key provided"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // cpp-httplib does not apply the body size limit to chunked uploads; clients send Content-Length anyway.
    if (req.has_header("Transfer-Encoding") &&
        req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos) {
      send_error(res, ApiError(411, "invalid_request_error", "", "length_required",
                               "chunked request bodies are not accepted: send Content-Length"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors the HTTP layer produces itself (413, 404 for unknown routes, 400 for malformed HTTP) get an OpenAI body.
  http_->set_error_handler(httplib::Server::HandlerWithResponse([max_body](const httplib::Request& req,
                                                                           httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a route's own error body
    if (res.status == 413) {
      send_error(res, ApiError(413, "invalid_request_error", "", "request_too_large",
                               "the request body is over " + std::to_string(max_body) + " bytes"));
    } else if (res.status == 404) {
      send_error(res, ApiError(404, "invalid_request_error", "", "not_found",
                               "no route " + req.method + " " + req.path));
    } else if (res.status == 400) {
      send_error(res, ApiError(400, "invalid_request_error", "", "bad_http_request",
                               "malformed HTTP request (a POST needs a Content-Length, even for an empty body)"));
    } else {
      send_error(res, ApiError(res.status, res.status >= 500 ? "server_error" : "invalid_request_error", "", "",
                               "HTTP error " + std::to_string(res.status)));
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_->set_logger(
      [this](const httplib::Request&, const httplib::Response& res) { counters_.count_response(res.status); });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "server_error", "", "", "internal error"));
  });

  http_->Get("/health", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      const auto stats = engine_->stats();
      send_json(res, 200,
                {{"status", "ok"},
                 {"model", options_.model_name},
                 {"running", stats.running},
                 {"queued", stats.queued},
                 {"completions", counters_.completions.load()},
                 {"streams_abandoned", counters_.streams_abandoned.load()},
                 {"kv_cache_usage_ratio", stats.kv_bytes_capacity > 0 ? static_cast<double>(stats.kv_bytes_in_use) /
                                                                            static_cast<double>(stats.kv_bytes_capacity)
                                                                      : 0.0}});
    });
  });
  // Prometheus text: like /health, outside /v1 and without the key (the server listens on loopback by default).
  http_->Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      res.set_content(counters_.prometheus(engine_->stats(), options_.model_name), "text/plain; version=0.0.4");
    });
  });
  http_->Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      json model{{"id", options_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "muse"},
                 {"context_length", loaded_.config.max_seq_len}};
      send_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
    });
  });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(req, res, [&] {
      ChatTurn turn = prepare_chat(req.body, loaded_, options_);
      // A bounded queue: past it the client is told to come back, rather than waiting without limit.
      if (options_.max_queued > 0 && engine_->stats().queued >= options_.max_queued) {
        res.set_header("Retry-After", "1");
        throw ApiError(429, "rate_limit_error", "", "rate_limit_exceeded",
                       "the server is busy: " + std::to_string(options_.max_queued) +
                           " requests are already waiting; retry shortly");
      }
      ResponseMeta meta;
      meta.id = "chatcmpl-" + std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
                std::to_string(next_request_++);
      meta.created = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
      meta.model = options_.model_name;
      if (turn.request.mode == AnswerMode::Contemplating) {
        if (turn.request.stream) {
          stream_contemplation(*engine_, loaded_.tokenizer, std::move(turn), meta, res, counters_, &active_);
        } else {
          send_json(res, 200, complete_contemplation(*engine_, loaded_.tokenizer, turn, meta, &counters_, &active_));
          ++counters_.completions;
        }
        return;
      }
      if (turn.request.spawn) {
        if (turn.request.stream) {
          stream_agent_tree(*engine_, loaded_.tokenizer, std::move(turn), meta, res, counters_, &active_);
        } else {
          send_json(res, 200, complete_agent_tree(*engine_, loaded_.tokenizer, turn, meta, &counters_, &active_));
          ++counters_.completions;
        }
        return;
      }
      if (!turn.request.stream) {
        send_json(res, 200, complete_chat(*engine_, loaded_.tokenizer, turn, meta, &active_, &counters_));
        ++counters_.completions;
        return;
      }
      stream_chat(*engine_, loaded_.tokenizer, std::move(turn), meta, res, counters_, &active_);
    });
  });
  // "Answer now": the request's choices that are still thinking close their thinking and answer.
  http_->Post(R"(/v1/chat/completions/([^/]+)/answer_now)", [this](const httplib::Request& req,
                                                                   httplib::Response& res) {
    guarded(req, res, [&] {
      const std::string id = req.matches[1];
      if (!active_.end_thinking(id, *engine_))
        throw ApiError(404, "invalid_request_error", "id", "not_found",
                       "no running chat completion '" + id + "' (it finished, or never existed)");
      send_json(res, 200, {{"id", id}, {"object", "chat.completion.answer_now"}, {"answer_now", true}});
    });
  });
  // The Muse app: static files embedded at build time (app/ -> app_assets.cpp).
  for (const AppAsset& asset : app_assets()) {
    const std::string path = asset.path == std::string("index.html") ? "/" : "/" + std::string(asset.path);
    http_->Get(path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(reinterpret_cast<const char*>(asset.data), asset.size, asset.content_type);
    });
  }
}

}  // namespace muse::server

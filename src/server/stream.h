// One chat completion on the engine: a validated request rendered into a prompt and engine params
// (prepare_chat), then answered whole (complete_chat) or streamed as SSE chunks (stream_chat). The routes in
// server.cpp only pick which.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/tool_session.h"
#include "engine/engine.h"
#include "model/weights.h"
#include "server/metrics.h"
#include "server/openai.h"

namespace httplib {
struct Response;
struct DataSink;
}

namespace muse::server {

struct ServerOptions;


struct ChatTurn {
  ChatRequest request;
  TokenSequence prompt;  // the rendered conversation, ending with the generation prompt
  RequestParams params;  // sampling, thinking budget, stops, logprobs (without observers)
  ToolContext tool_context;  // the conversation's images and tables, for the built-in tools
  ToolUseParams tool_use;    // enabled = the request's muse_tools
  std::vector<Segment> attachments;  // the conversation's images and tables in order (sub-agents get them by index)
  VisionParams vision;               // how the model sees images (the tools' and sub-agents' prompts)
  // One runner per choice, configured into params (pause on a call, or calls banned).
  std::vector<ToolRunner> runners(const Tokenizer& tok) const;
};

// How long a request took (see Timings): from `started` to the first token, then to the last event.
Timings request_timings(const Usage& usage, std::chrono::steady_clock::time_point started,
                        std::chrono::steady_clock::time_point first_token,
                        std::chrono::steady_clock::time_point last_event);
// Adds the request's tokens to the server's counters (none: nothing).
void count_tokens(ServerCounters* counters, const Usage& usage);

// A runner's record as the API shows it (index: its place among the choice's calls).
ServerToolCall server_tool_call(const ToolCallRecord& record, int index);
// Built-in calls with their results, as a whole message shows them: [{id, type, function, ..., "result"}].
nlohmann::json tool_calls_with_results_json(const std::vector<ToolCallRecord>& calls);
// OpenAI leaves the stop sequence out of the content: `answer` without a trailing `stop`.
std::string without_stop(std::string answer, const std::string& stop);
// A client call's arguments as the model wrote them (what the stream sent in fragments).
std::string client_arguments(const ToolCallRecord& record);

// Parses and validates `body` against the model (context length, images) and builds the engine params.
// Throws ApiError: 404 model_not_found for another model's name, 400 context_length_exceeded when the
// messages (plus max_tokens) do not fit the model's context.
ChatTurn prepare_chat(const std::string& body, const LoadedModel& model, const ServerOptions& options);

class ActiveRequests;

// Runs the turn's n choices to their end and returns the chat.completion object. With `active`, the choices
// are registered under meta.id while they run (answer now).
nlohmann::json complete_chat(Engine& engine, const Tokenizer& tok, const ChatTurn& turn, const ResponseMeta& meta,
                             ActiveRequests* active = nullptr, ServerCounters* counters = nullptr);

// Adds the turn's choices to the engine now (so capacity errors are still an HTTP error) and makes `res` an
// SSE stream: role, reasoning_content deltas, content deltas, a finish chunk per choice, the optional usage
// chunk, then [DONE]. A client that goes away cancels every choice.
void stream_chat(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                 httplib::Response& res, ServerCounters& counters, ActiveRequests* active = nullptr);

// Makes `res` a server-sent event stream (no caching, no proxy buffering). `write` produces it and returns false
// once the client is gone; when the response ends, `release` runs, and the stream counts as a completion if
// `written()` (it reached [DONE]) or else as abandoned, and `abandon` cancels what still runs.
struct SseHandlers {
  std::function<bool(httplib::DataSink&)> write;
  std::function<bool()> written;
  std::function<void()> abandon;
  std::function<void()> release;
};
void serve_sse(httplib::Response& res, ServerCounters& counters, SseHandlers handlers);

// Incremental decoding of one choice: re-parses the whole reply each token (so multi-byte characters stay
// whole) and returns only the text that is new since the last call.
class ReplyDelta {
 public:
  explicit ReplyDelta(const Tokenizer& tok) : tok_(tok) {}
  Delta add(int token);
  const std::vector<int>& tokens() const { return tokens_; }

 private:
  const Tokenizer& tok_;
  std::vector<int> tokens_;
  size_t reasoning_sent_ = 0, content_sent_ = 0;
};

}  // namespace muse::server

// The OpenAI Chat Completions API as plain structs: a request parsed and validated from JSON, and the JSON of
// responses, streamed chunks and errors. No sockets here, so every rule is unit-tested (tests/server/).
//
//   ChatRequest r = parse_chat_request(body_text, limits);   // throws ApiError naming the offending param
//   json reply = completion_json(meta, choices, usage);
//   std::string line = sse_data(chunk_json(meta, 0, delta, FinishReason::None));
//
// Content parts: {"type":"text","text":...}, {"type":"image_url","image_url":{"url":"data:image/png;base64,..."}}
// (PNG or JPEG inline only: Muse never fetches a URL), and Muse's own table part
// {"type":"table","table":{"csv":"a,b\n1,2"}} or {"type":"table","table":{"json":[{"a":1,"b":2}]}}.
// Assistant messages may carry their reasoning as `reasoning_content` (or vLLM's `reasoning`).
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/contemplate.h"
#include "agents/spawn.h"
#include "data/image.h"
#include "data/table.h"
#include "engine/request.h"
#include "server/client_tools.h"
#include "tokenizer/chat_format.h"
#include "util/error.h"

namespace muse::server {

// An OpenAI-shaped error: HTTP status and {"error":{"message","type","param","code"}}. Thrown by the parser and
// by the routes; the route boundary turns it into the response.
struct ApiError : std::runtime_error {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string param;  // e.g. "messages[2].content[0].image_url.url"; "" = null
  std::string code;   // e.g. "context_length_exceeded"; "" = null
  ApiError(int status, std::string type, std::string param, std::string code, const std::string& message)
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
  std::string message() const { return what(); }
};
// 400 invalid_request_error about `param`.
ApiError invalid_param(const std::string& param, const std::string& message, const std::string& code = "");
// The one mapping from a MuseError's kind to an HTTP status and OpenAI error type (see the .cpp table).
ApiError api_error_from(const MuseError& error, const std::string& param = "");
nlohmann::json error_json(const ApiError& error);

// Never throws on invalid UTF-8 (bytes are replaced): the one way the server serializes JSON.
std::string dump_json(const nlohmann::json& value);

enum class ReasoningEffort { Unset, Low, Medium, High };

// What the parser accepts. Defaults suit the shipped CPU models; the server fills in the model's facts.
struct RequestLimits {
  int max_n = 16;                 // choices per request
  int max_tokens = 1 << 20;       // upper bound of max_tokens (the server also checks the context)
  int max_stop = 4;               // stop strings (OpenAI's limit)
  size_t max_stop_chars = 256;    // bytes per stop string
  int max_top_logprobs = 20;
  size_t max_messages = 256;
  bool images = true;             // false: the model is text-only and image parts are refused
  ImageLimits image;
  TableLimits table;
};

struct ChatRequest {
  std::string model;                 // "" = not given (the served model)
  std::vector<Message> messages;     // at least one
  std::optional<int> max_tokens;     // max_completion_tokens or max_tokens; nothing = up to the context
  std::optional<double> temperature; // nothing: greedy for n = 1, 1.0 for n > 1 (distinct samples)
  double top_p = 1.0;
  std::optional<uint64_t> seed;
  int n = 1;
  std::vector<std::string> stop;
  bool logprobs = false;
  int top_logprobs = 0;
  ReasoningEffort reasoning_effort = ReasoningEffort::Unset;
  // thinking_budget_tokens (or reasoning_budget_tokens): N, or {"min": N, "max": M} (either optional); the max
  // wins over reasoning_effort, the min makes the model think at least that long.
  std::optional<int> thinking_budget_tokens;
  int min_thinking_tokens = 0;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Muse extension muse_tools: "on" (default) | "off" (or a bool): the built-in tools (calculator, zoom,
  // table_query) the model may call while it thinks; they run server-side and stream as muse_tool_calls.
  bool builtin_tools = true;
  // Muse's reasoning mode: `mode` or the model name's suffix ("default:contemplating"). Contemplating runs
  // muse_agents agents (default 8) on the prompt and muse_synthesis ("vote" | "confidence" | "online", default
  // "confidence") makes their answers one; n must be 1 and logprobs off.
  AnswerMode mode = AnswerMode::Standard;
  int agents = 8;
  Synthesis synthesis = Synthesis::Confidence;
  // Muse extension muse_spawn: "on" | "off" (default) | a bool | an object of SpawnLimits fields
  // ({"max_depth", "max_children", "max_spawns", "max_agents", "child_max_tokens", "max_seconds"}: on, with
  // those limits). On, the model may call `spawn` inside its thinking (agents/spawn.h): its sub-agents run as
  // sequences of the same batch and stream as delta.muse_agent; the whole tree comes as muse_agents. Standard
  // mode only, with n = 1, without logprobs, client tools or a JSON answer.
  bool spawn = false;
  SpawnLimits spawn_limits;
  // tools / tool_choice / parallel_tool_calls / response_format (server/client_tools.h).
  ClientTools client_tools;
};

// Parses and validates the body. Unknown fields are ignored (clients send many). `tool` messages are folded
// into the assistant tool call they answer (Message::thinking_tool_calls); a conversation that ends with them
// leaves the last assistant turn open. Throws ApiError naming the param.
ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits = {});
ChatRequest parse_chat_request(const nlohmann::json& body, const RequestLimits& limits = {});

// Strict base64 (standard alphabet; '=' padding optional; no whitespace). nullopt on any bad character.
std::optional<std::string> base64_decode(const std::string& text);

// Muse's reasoning modes, from `mode` or the model name's suffix ("default:standard"): standard or
// contemplating; anything else is a 400 naming `param`.
AnswerMode check_mode(const std::string& mode, const std::string& param);

// Thinking budget for the engine: thinking_budget_tokens, else reasoning_effort, else -1 (no limit).
int thinking_budget(const ChatRequest& request);

// ---- Responses ----

struct ResponseMeta {
  std::string id;       // "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

struct TokenLogprob {
  std::string token;  // the token's text (special tokens by name)
  float logprob = 0;  // NaN (forced tokens) is written as null
  std::vector<std::pair<std::string, float>> top;
};

// A built-in tool call the server ran for the model (never OpenAI's tool_calls: a client must not run it).
// Wire shape: {"index", "id", "type": "function", "function": {"name", "arguments"}, "muse_box"?, "muse_image"?}
// and its result {"tool_call_id", "content", "is_error", "muse_crop"?} (app/README.md, "Tool calls").
struct ServerToolCall {
  int index = 0;                // per choice, in order
  std::string name;
  std::string arguments;        // the model's arguments as JSON text
  nlohmann::json box;           // zoom: [x0, y0, x1, y1] in original pixels (null otherwise)
  int image = -1;               // zoom: which image of the conversation
  nlohmann::json crop;          // zoom: [w, h] of the crop in original pixels
  std::string result;           // what the model saw (an error as "error: <kind>: <message>")
  bool is_error = false;
  std::string id() const { return "call_" + std::to_string(index); }
};
nlohmann::json server_tool_call_json(const ServerToolCall& call);    // the call entry
nlohmann::json server_tool_result_json(const ServerToolCall& call);  // its result entry

struct Choice {
  int index = 0;
  std::string content;    // the answer
  std::string reasoning;  // the thinking span
  FinishReason finish_reason = FinishReason::Stop;
  std::optional<std::vector<TokenLogprob>> logprobs;  // when requested
  std::vector<ServerToolCall> tool_calls;             // built-in calls: message.muse_tool_calls
  std::vector<ClientToolCall> client_calls;           // calls to the client's functions: message.tool_calls
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // every generated token of every choice, thinking included
  int64_t reasoning_tokens = 0;
  int64_t cached_tokens = 0;      // prompt tokens whose KV the prefix cache held (not prefilled again)
};

// How long a request took, in llama.cpp's `timings` shape (app/README.md): the prompt from admission to the
// first token (queueing included), the completion from the first token to the last, all choices together.
struct Timings {
  int64_t prompt_n = 0;
  double prompt_ms = 0;
  int64_t predicted_n = 0;
  double predicted_ms = 0;
  int64_t cache_n = 0;
};
nlohmann::json timings_json(const Timings& timings);

// "stop" or "length" (the context limit counts as length; a cancelled sequence as stop).
const char* openai_finish_reason(FinishReason reason);
nlohmann::json usage_json(const Usage& usage);
nlohmann::json completion_json(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                               const Timings* timings = nullptr);

struct Delta {
  bool role = false;       // the first chunk of a choice says role "assistant"
  std::string reasoning;   // new thinking text
  std::string content;     // new answer text
  std::vector<ServerToolCall> tool_calls;  // built-in calls that ran since the last chunk (with their results)
  std::vector<TokenLogprob> logprobs;      // the chunk's token, when the request asked for logprobs
  // Fragments of calls to the client's functions: id and name on a call's first, then arguments text.
  std::vector<ClientToolCall> client_calls;
};
// One chat.completion.chunk for choice `index`; finish_reason None = null, "tool_calls" when `called`.
nlohmann::json chunk_json(const ResponseMeta& meta, int index, const Delta& delta, FinishReason finish,
                          bool called = false);
// The final usage chunk (stream_options.include_usage): empty choices.
nlohmann::json usage_chunk_json(const ResponseMeta& meta, const Usage& usage, const Timings* timings = nullptr);
// "data: {json}\n\n", and the stream's end "data: [DONE]\n\n".
std::string sse_data(const nlohmann::json& value);
inline const char* sse_done() { return "data: [DONE]\n\n"; }

}  // namespace muse::server

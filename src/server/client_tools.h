// The client's side of tool use and structured output in the Chat Completions API: function tools
// (`tools`, `tool_choice`, `parallel_tool_calls`), the assistant's `tool_calls` and the `tool` messages that
// answer them, and `response_format` (json_object, json_schema). Parsed into plain structs here; decoding
// follows them through constrain/reply_constraint.h (arguments and answers by their JSON schemas).
//
// How a round trip looks in Muse's token stream: the model calls inside its thinking, as it calls its built-in
// tools — <|tool_call|>get_weather {"city":"Oslo"}<|/tool_call|> — and the reply ends there with
// finish_reason "tool_calls". When the client sends the conversation back with the assistant's tool_calls and
// a `tool` message per call, the assistant turn is rendered open — its thinking, the call, then
// <|tool_result|>RESULT<|/tool_result|> — and the model goes on thinking from the result.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "constrain/json_schema.h"

namespace muse::server {

struct ClientFunction {
  std::string name;         // [A-Za-z0-9_-], 1-64 characters
  std::string description;  // may be empty
  nlohmann::json parameters = nlohmann::json::object();  // a JSON Schema of an object
  std::shared_ptr<const constrain::JsonSchema> schema;     // compiled `parameters`
};

enum class ToolChoice {
  Auto,      // the model may call a function (default when there are tools)
  None,      // it may not call the client's functions (built-in tools still run)
  Required,  // the reply opens with a call to one of them
  Named,     // the reply opens with a call to tool_choice.function.name
};

enum class ResponseFormat { Text, JsonObject, JsonSchema };

struct ClientTools {
  std::vector<ClientFunction> functions;
  ToolChoice choice = ToolChoice::Auto;
  std::string named;                 // ToolChoice::Named
  bool parallel_tool_calls = true;   // accepted; Muse's models write one call per reply either way
  ResponseFormat format = ResponseFormat::Text;
  std::string format_name;           // json_schema.name
  std::shared_ptr<const constrain::JsonSchema> answer_schema;  // JsonObject / JsonSchema
  bool any() const { return !functions.empty() || format != ResponseFormat::Text; }
  // The functions the model may call in this request (none when tool_choice is "none").
  bool calls_allowed() const { return !functions.empty() && choice != ToolChoice::None; }
};

// Parses `tools`, `tool_choice`, `parallel_tool_calls` and `response_format` of a request body. Throws ApiError
// (openai.h) naming the param, e.g. "tools[1].function.parameters" with the schema path that is not supported.
ClientTools parse_client_tools(const nlohmann::json& body);

// The functions as one line each, for the system part of the prompt: `get_weather(city: string, unit?: string)
// - Get the weather.`
std::string functions_prompt(const std::vector<ClientFunction>& functions);

// A call the model made to a client function, as the API returns it.
struct ClientToolCall {
  int index = 0;          // among the choice's client calls
  std::string id;         // "call_..."
  std::string name;
  std::string arguments;  // JSON text, as the model wrote it (constrained by the schema)
};
nlohmann::json client_tool_call_json(const ClientToolCall& call);
// The id of a choice's k-th client call in a response: "call_<the response id's unique part>_<choice>_<k>".
std::string client_call_id(const std::string& response_id, int choice, int k);

}  // namespace muse::server

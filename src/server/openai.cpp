#include "server/openai.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace muse::server {
using nlohmann::json;

ApiError invalid_param(const std::string& param, const std::string& message, const std::string& code) {
  return ApiError(400, "invalid_request_error", param, code, message);
}

ApiError api_error_from(const MuseError& error, const std::string& param) {
  switch (error.kind()) {
    case ErrorKind::InvalidRequest:
    case ErrorKind::Unsupported: return ApiError(400, "invalid_request_error", param, "", error.what());
    case ErrorKind::NotFound: return ApiError(404, "invalid_request_error", param, "not_found", error.what());
    // Over capacity at request time means the prompt plus its completion can never fit (context or KV pool);
    // bodies over the size limit are answered 413 by the HTTP layer before they get here.
    case ErrorKind::OverCapacity:
      return ApiError(400, "invalid_request_error", param.empty() ? "messages" : param, "context_length_exceeded",
                      error.what());
    case ErrorKind::Busy: return ApiError(503, "server_error", param, "server_busy", error.what());
    case ErrorKind::Timeout: return ApiError(504, "server_error", param, "timeout", error.what());
    case ErrorKind::Cancelled:
    case ErrorKind::Interrupted: return ApiError(503, "server_error", param, "cancelled", error.what());
    case ErrorKind::Internal: return ApiError(500, "server_error", param, "", error.what());
  }
  return ApiError(500, "server_error", param, "", error.what());
}

json error_json(const ApiError& error) {
  json e;
  e["message"] = error.message();
  e["type"] = error.type;
  e["param"] = error.param.empty() ? json(nullptr) : json(error.param);
  e["code"] = error.code.empty() ? json(nullptr) : json(error.code);
  return json{{"error", e}};
}

std::string dump_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

namespace {

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a number";
    default: return "an integer";
  }
}

ApiError wrong_type(const std::string& param, const char* expected, const json& got) {
  return invalid_param(param, std::string("'") + param + "' must be " + expected + ", got " + type_name(got),
                       "invalid_type");
}

bool get_bool(const json& v, const std::string& param) {
  if (!v.is_boolean()) throw wrong_type(param, "a boolean", v);
  return v.get<bool>();
}

double get_number(const json& v, const std::string& param, double lo, double hi) {
  if (!v.is_number()) throw wrong_type(param, "a number", v);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw invalid_param(param, "'" + param + "' must be between " + json(lo).dump() + " and " + json(hi).dump() +
                                   ", got " + dump_json(v),
                        "invalid_value");
  return x;
}

int64_t get_int(const json& v, const std::string& param, int64_t lo, int64_t hi) {
  auto out_of_range = [&] {
    return invalid_param(param, "'" + param + "' must be between " + std::to_string(lo) + " and " +
                                    std::to_string(hi) + ", got " + dump_json(v),
                         "invalid_value");
  };
  if (v.is_number_float()) {  // 3.0 from a loosely typed client is an integer; 3.5 is not
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d) throw wrong_type(param, "an integer", v);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) throw out_of_range();
    return static_cast<int64_t>(d);
  }
  if (!v.is_number_integer()) throw wrong_type(param, "an integer", v);
  if (v.is_number_unsigned()) {
    // JSON's non-negative literals parse as unsigned: the lower bound applies here too (n: 0 is out of range).
    const uint64_t u = v.get<uint64_t>();
    if (hi < 0 || u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) throw out_of_range();
    return static_cast<int64_t>(u);
  }
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) throw out_of_range();
  return x;
}

const std::string& get_string(const json& v, const std::string& param) {
  if (!v.is_string()) throw wrong_type(param, "a string", v);
  return v.get_ref<const std::string&>();
}

Segment image_part(const json& part, const std::string& param, const RequestLimits& limits) {
  if (!limits.images)
    throw invalid_param(param, "this model is text-only: it cannot read images", "unsupported_content");
  if (!part.contains("image_url")) throw invalid_param(param + ".image_url", "an image_url part needs 'image_url'");
  const json& image_url = part["image_url"];
  std::string url_param = param + ".image_url";
  const json* url = &image_url;
  if (image_url.is_object()) {
    if (!image_url.contains("url")) throw invalid_param(url_param + ".url", "'image_url' needs a 'url'");
    url = &image_url["url"];
    url_param += ".url";
  }
  const std::string& text = get_string(*url, url_param);
  if (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0)
    throw invalid_param(url_param,
                        "remote image URLs are not fetched (Muse never downloads); send the image inline as "
                        "data:image/png;base64,... or data:image/jpeg;base64,...",
                        "unsupported_url");
  if (text.rfind("data:", 0) != 0)
    throw invalid_param(url_param, "the image must be a data URL: data:image/png;base64,...", "invalid_url");
  const size_t comma = text.find(',');
  const std::string header = text.substr(5, comma == std::string::npos ? std::string::npos : comma - 5);
  if (comma == std::string::npos || header.size() < 7 || header.compare(header.size() - 7, 7, ";base64") != 0)
    throw invalid_param(url_param, "the data URL must be base64: data:image/png;base64,...", "invalid_url");
  const std::string media = header.substr(0, header.size() - 7);
  if (media != "image/png" && media != "image/jpeg" && media != "image/jpg")
    throw invalid_param(url_param, "images must be PNG or JPEG, got '" + media + "'", "invalid_image_format");
  const size_t encoded = text.size() - comma - 1;
  if (encoded / 4 * 3 > limits.image.max_file_bytes + 3)
    throw invalid_param(url_param, "the image is over " + std::to_string(limits.image.max_file_bytes >> 20) + " MiB",
                        "image_too_large");
  const auto bytes = base64_decode(text.substr(comma + 1));
  if (!bytes) throw invalid_param(url_param, "the image's base64 data is invalid", "invalid_base64");
  try {
    return image_segment(decode_image(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size(), "image",
                                      limits.image));
  } catch (const MuseError& e) {
    throw invalid_param(url_param, e.what(), "invalid_image");
  }
}

Segment table_part(const json& part, const std::string& param, const RequestLimits& limits) {
  const std::string table_param = param + ".table";
  if (!part.contains("table")) throw invalid_param(table_param, "a table part needs 'table': {\"csv\": ...} or {\"json\": ...}");
  const json& table = part["table"];
  if (!table.is_object()) throw wrong_type(table_param, "an object with 'csv' or 'json'", table);
  try {
    if (table.contains("csv")) return table_segment(parse_csv(get_string(table["csv"], table_param + ".csv"), "table", limits.table));
    if (table.contains("json")) return table_segment(table_from_json(table["json"], "table", limits.table));
  } catch (const MuseError& e) {
    throw invalid_param(table_param + (table.contains("csv") ? ".csv" : ".json"), e.what(), "invalid_table");
  }
  throw invalid_param(table_param, "a table part needs 'csv' (text) or 'json' (records or one object)");
}

std::vector<Segment> parse_content(const json& content, const std::string& param, Role role,
                                   const RequestLimits& limits) {
  if (content.is_null()) return {};  // an assistant turn that only called tools
  if (content.is_string()) return {text_segment(content.get<std::string>())};
  if (!content.is_array()) throw wrong_type(param, "a string or an array of content parts", content);
  std::vector<Segment> segments;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string p = param + "[" + std::to_string(j) + "]";
    if (!part.is_object()) throw wrong_type(p, "a content part object", part);
    if (!part.contains("type")) throw invalid_param(p + ".type", "a content part needs a 'type'");
    const std::string& type = get_string(part["type"], p + ".type");
    if (type == "text") {
      if (!part.contains("text")) throw invalid_param(p + ".text", "a text part needs 'text'");
      segments.push_back(text_segment(get_string(part["text"], p + ".text")));
    } else if (type == "image_url") {
      if (role != Role::User) throw invalid_param(p + ".type", "only user messages may carry images");
      segments.push_back(image_part(part, p, limits));
    } else if (type == "table") {
      segments.push_back(table_part(part, p, limits));
    } else {
      throw invalid_param(p + ".type", "unknown content part type '" + type + "' (text, image_url, table)");
    }
  }
  return segments;
}

Message parse_message(const json& m, const std::string& param, const RequestLimits& limits) {
  if (!m.is_object()) throw wrong_type(param, "a message object", m);
  if (!m.contains("role")) throw invalid_param(param + ".role", "a message needs a 'role'");
  const std::string& role_text = get_string(m["role"], param + ".role");
  Message message;
  if (role_text == "developer") {
    message.role = Role::System;  // OpenAI's newer name for the system role
  } else if (role_text == "system" || role_text == "user" || role_text == "assistant" || role_text == "tool") {
    message.role = parse_role(role_text);
  } else {
    throw invalid_param(param + ".role",
                        "unknown role '" + role_text + "' (system, developer, user, assistant, tool)");
  }
  if (!m.contains("content") && message.role != Role::Assistant)
    throw invalid_param(param + ".content", "a " + role_text + " message needs 'content'");
  if (m.contains("content")) message.content = parse_content(m["content"], param + ".content", message.role, limits);
  if (m.contains("tool_calls") && !m["tool_calls"].is_null() && message.role != Role::Assistant)
    throw invalid_param(param + ".tool_calls", "only assistant messages carry 'tool_calls'");
  if (message.role == Role::Tool && !m.contains("tool_call_id"))
    throw invalid_param(param + ".tool_call_id", "a tool message needs 'tool_call_id'");
  for (const char* key : {"reasoning_content", "reasoning"}) {
    if (!m.contains(key) || m[key].is_null()) continue;
    if (message.role != Role::Assistant)
      throw invalid_param(param + "." + key, std::string("only assistant messages carry '") + key + "'");
    message.thinking = get_string(m[key], param + "." + key);
  }
  return message;
}

// The assistant's calls to client functions: each becomes a call in its thinking (at its end), answered by the
// `tool` messages that follow.
struct PendingCall {
  size_t message = 0, call = 0;  // in the parsed messages
  std::string id;
  bool answered = false;
};

void parse_assistant_calls(const json& m, const std::string& param, Message& message, size_t index,
                           std::vector<PendingCall>& pending) {
  const json& calls = m["tool_calls"];
  if (!calls.is_array()) throw wrong_type(param + ".tool_calls", "an array of tool calls", calls);
  for (size_t j = 0; j < calls.size(); ++j) {
    const std::string p = param + ".tool_calls[" + std::to_string(j) + "]";
    const json& call = calls[j];
    if (!call.is_object()) throw wrong_type(p, "a tool call object", call);
    if (!call.contains("id")) throw invalid_param(p + ".id", "a tool call needs its 'id'");
    if (!call.contains("function") || !call["function"].is_object())
      throw invalid_param(p + ".function", "a tool call needs 'function': {\"name\", \"arguments\"}");
    const json& f = call["function"];
    if (!f.contains("name")) throw invalid_param(p + ".function.name", "a tool call needs a function 'name'");
    TraceToolCall trace;
    trace.at = message.thinking.size();
    trace.name = get_string(f["name"], p + ".function.name");
    const std::string arguments = f.contains("arguments") ? get_string(f["arguments"], p + ".function.arguments") : "{}";
    try {
      trace.arguments = json::parse(arguments.empty() ? "{}" : arguments);
    } catch (const json::parse_error&) {
      throw invalid_param(p + ".function.arguments", "the arguments must be a JSON object as text, got " + arguments);
    }
    if (!trace.arguments.is_object())
      throw invalid_param(p + ".function.arguments", "the arguments must be a JSON object, got " + arguments);
    for (const auto& other : pending)
      if (other.id == get_string(call["id"], p + ".id"))
        throw invalid_param(p + ".id", "two tool calls have the id '" + other.id + "'");
    pending.push_back({index, message.thinking_tool_calls.size(), call["id"].get<std::string>(), false});
    message.thinking_tool_calls.push_back(std::move(trace));
  }
}

std::string missing_results(const std::vector<PendingCall>& pending) {
  std::string ids;
  for (const auto& p : pending)
    if (!p.answered) ids += (ids.empty() ? "" : ", ") + p.id;
  return ids;
}

// The messages with every `tool` message folded into the assistant call it answers. A conversation that ends
// with answered calls leaves its last assistant turn open: the model continues it.
std::vector<Message> parse_messages(const json& messages, const RequestLimits& limits) {
  std::vector<Message> out;
  std::vector<PendingCall> pending;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    const json& m = messages[i];
    const bool tool = m.is_object() && m.contains("role") && m["role"] == "tool";
    if (!tool && !missing_results(pending).empty())
      throw invalid_param(param, "an assistant message with tool_calls must be followed by a tool message for each "
                                 "call before the next message (no result yet for " + missing_results(pending) + ")");
    if (!tool) pending.clear();
    Message message = parse_message(m, param, limits);
    if (!tool) {
      if (message.role == Role::Assistant && m.contains("tool_calls") && !m["tool_calls"].is_null())
        parse_assistant_calls(m, param, message, out.size(), pending);
      out.push_back(std::move(message));
      continue;
    }
    const std::string& id = get_string(m["tool_call_id"], param + ".tool_call_id");
    auto it = std::find_if(pending.begin(), pending.end(), [&](const PendingCall& p) { return p.id == id && !p.answered; });
    if (it == pending.end())
      throw invalid_param(param + ".tool_call_id", "no tool call of the assistant message before it has the id '" + id +
                                                       "' (or it was answered already)");
    it->answered = true;
    TraceToolCall& call = out[it->message].thinking_tool_calls[it->call];
    call.result = message.content;
    call.filled = true;
  }
  if (!missing_results(pending).empty())
    throw invalid_param("messages", "the last assistant message's tool calls need a tool message each (no result yet for " +
                                        missing_results(pending) + ")");
  if (!pending.empty()) out.back().open = true;
  return out;
}

}  // namespace

std::optional<std::string> base64_decode(const std::string& text) {
  static const auto table = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
    return t;
  }();
  size_t n = text.size();
  size_t pad = 0;
  while (n > 0 && text[n - 1] == '=' && pad < 2) --n, ++pad;
  if (pad > 0 && (n + pad) % 4 != 0) return std::nullopt;
  if (n % 4 == 1) return std::nullopt;  // no whole byte in a lone sextet
  std::string out;
  out.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int8_t v = table[static_cast<uint8_t>(text[i])];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

namespace {

// muse_spawn: a switch, or the limits of an agent tree (which switch it on).
void parse_spawn_switch(const json& v, ChatRequest& r) {
  if (v.is_boolean()) {
    r.spawn = v.get<bool>();
    return;
  }
  if (v.is_string() && (v == "on" || v == "off")) {
    r.spawn = v == "on";
    return;
  }
  if (!v.is_object()) throw wrong_type("muse_spawn", "\"on\", \"off\", a boolean or an object of limits", v);
  SpawnLimits& l = r.spawn_limits;
  for (const auto& [key, value] : v.items()) {
    const std::string param = "muse_spawn." + key;
    if (key == "max_depth") l.max_depth = static_cast<int>(get_int(value, param, 0, 4));
    else if (key == "max_children") l.max_children = static_cast<int>(get_int(value, param, 1, 16));
    else if (key == "max_spawns") l.max_spawns = static_cast<int>(get_int(value, param, 0, 16));
    else if (key == "max_agents") l.max_agents = static_cast<int>(get_int(value, param, 1, 64));
    else if (key == "child_max_tokens") l.child_max_tokens = static_cast<int>(get_int(value, param, 1, 1 << 20));
    else if (key == "max_seconds") l.max_seconds = get_number(value, param, 0.001, 600);
    else
      throw invalid_param("muse_spawn", "unknown field '" + key + "'; muse_spawn takes max_depth, max_children, "
                                        "max_spawns, max_agents, child_max_tokens and max_seconds");
  }
  r.spawn = true;
}

}  // namespace

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::parse_error& e) {
    throw invalid_param("", std::string("the request body is not valid JSON: ") + e.what(), "invalid_json");
  }
  return parse_chat_request(parsed, limits);
}

ChatRequest parse_chat_request(const json& body, const RequestLimits& limits) {
  if (!body.is_object()) throw invalid_param("", "the request body must be a JSON object", "invalid_json");
  ChatRequest r;
  auto has = [&](const char* key) { return body.contains(key) && !body[key].is_null(); };
  if (has("model")) r.model = get_string(body["model"], "model");

  if (!body.contains("messages")) throw invalid_param("messages", "'messages' is required");
  const json& messages = body["messages"];
  if (!messages.is_array()) throw wrong_type("messages", "an array of messages", messages);
  if (messages.empty()) throw invalid_param("messages", "'messages' must not be empty", "empty_array");
  if (messages.size() > limits.max_messages)
    throw invalid_param("messages", "at most " + std::to_string(limits.max_messages) + " messages");
  r.messages = parse_messages(messages, limits);

  // max_completion_tokens is the current name; max_tokens the deprecated one. Either bounds every generated
  // token, thinking included (as OpenAI's reasoning models count them).
  for (const char* key : {"max_tokens", "max_completion_tokens"})
    if (has(key)) r.max_tokens = static_cast<int>(get_int(body[key], key, 1, limits.max_tokens));
  if (has("temperature")) r.temperature = get_number(body["temperature"], "temperature", 0.0, 2.0);
  if (has("top_p")) {
    r.top_p = get_number(body["top_p"], "top_p", 0.0, 1.0);
    if (r.top_p <= 0) throw invalid_param("top_p", "'top_p' must be above 0", "invalid_value");
  }
  if (has("seed"))
    r.seed = static_cast<uint64_t>(get_int(body["seed"], "seed", std::numeric_limits<int64_t>::min(),
                                           std::numeric_limits<int64_t>::max()));
  if (has("n")) r.n = static_cast<int>(get_int(body["n"], "n", 1, limits.max_n));
  if (has("stop")) {
    const json& stop = body["stop"];
    if (stop.is_string()) {
      r.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      if (static_cast<int>(stop.size()) > limits.max_stop)
        throw invalid_param("stop", "at most " + std::to_string(limits.max_stop) + " stop strings");
      for (size_t i = 0; i < stop.size(); ++i) r.stop.push_back(get_string(stop[i], "stop[" + std::to_string(i) + "]"));
    } else {
      throw wrong_type("stop", "a string or an array of strings", stop);
    }
    for (size_t i = 0; i < r.stop.size(); ++i)
      if (r.stop[i].empty() || r.stop[i].size() > limits.max_stop_chars)
        throw invalid_param(stop.is_string() ? "stop" : "stop[" + std::to_string(i) + "]",
                            "stop strings must be 1 to " + std::to_string(limits.max_stop_chars) + " bytes");
  }
  if (has("logprobs")) r.logprobs = get_bool(body["logprobs"], "logprobs");
  if (has("top_logprobs")) {
    r.top_logprobs = static_cast<int>(get_int(body["top_logprobs"], "top_logprobs", 0, limits.max_top_logprobs));
    if (r.top_logprobs > 0 && !r.logprobs)
      throw invalid_param("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  }
  if (has("reasoning_effort")) {
    const std::string& effort = get_string(body["reasoning_effort"], "reasoning_effort");
    if (effort == "low") r.reasoning_effort = ReasoningEffort::Low;
    else if (effort == "medium") r.reasoning_effort = ReasoningEffort::Medium;
    else if (effort == "high") r.reasoning_effort = ReasoningEffort::High;
    else throw invalid_param("reasoning_effort", "'reasoning_effort' must be low, medium or high, got '" + effort + "'");
  }
  for (const std::string key : {"reasoning_budget_tokens", "thinking_budget_tokens"}) {
    if (!has(key.c_str())) continue;
    const json& budget = body[key];
    if (!budget.is_object()) {
      r.thinking_budget_tokens = static_cast<int>(get_int(budget, key, 0, 1 << 20));  // over max_tokens: harmless
      continue;
    }
    for (const auto& [field, value] : budget.items())
      if (field != "min" && field != "max")
        throw invalid_param(key, "'" + key + "' takes \"min\" and \"max\", not \"" + field + "\"");
    if (budget.contains("max") && !budget["max"].is_null())
      r.thinking_budget_tokens = static_cast<int>(get_int(budget["max"], key + ".max", 0, 1 << 20));
    if (budget.contains("min") && !budget["min"].is_null())
      r.min_thinking_tokens = static_cast<int>(get_int(budget["min"], key + ".min", 0, 1 << 20));
    if (r.thinking_budget_tokens && r.min_thinking_tokens > *r.thinking_budget_tokens)
      throw invalid_param(key, "'" + key + "': min " + std::to_string(r.min_thinking_tokens) + " is over max " +
                                   std::to_string(*r.thinking_budget_tokens));
  }
  if (has("stream")) r.stream = get_bool(body["stream"], "stream");
  if (has("stream_options")) {
    const json& options = body["stream_options"];
    if (!options.is_object()) throw wrong_type("stream_options", "an object", options);
    if (options.contains("include_usage") && !options["include_usage"].is_null())
      r.include_usage = get_bool(options["include_usage"], "stream_options.include_usage");
  }
  // Muse's reasoning modes (docs/ARCHITECTURE.md, "Server").
  if (has("mode")) r.mode = check_mode(get_string(body["mode"], "mode"), "mode");
  // A client that cannot send extra fields picks the mode by the model's name: "default:contemplating".
  if (const size_t colon = r.model.rfind(':'); colon != std::string::npos) {
    const AnswerMode by_name = check_mode(r.model.substr(colon + 1), "model");
    if (has("mode") && by_name != r.mode)
      throw invalid_param("mode", "'mode' says " + std::string(answer_mode_name(r.mode)) +
                                      " but the model name says " + answer_mode_name(by_name));
    r.mode = by_name;
    r.model.resize(colon);
  }
  if (has("muse_agents"))
    r.agents = static_cast<int>(get_int(body["muse_agents"], "muse_agents", 1, ContemplateParams::kMaxAgents));
  if (has("muse_synthesis")) {
    const std::string name = get_string(body["muse_synthesis"], "muse_synthesis");
    try {
      r.synthesis = parse_synthesis(name, "muse_synthesis");
    } catch (const MuseError& e) {
      throw invalid_param("muse_synthesis", e.what());
    }
  }
  if (r.mode == AnswerMode::Contemplating) {
    if (r.temperature && *r.temperature == 0 && r.agents > 1)
      throw invalid_param("temperature", "contemplating with temperature 0 would make all " +
                                             std::to_string(r.agents) + " agents write the same greedy trace");
    if (r.n != 1)
      throw invalid_param("n", "contemplating mode answers once from muse_agents agents; 'n' must be 1");
    if (r.logprobs)
      throw invalid_param("logprobs", "logprobs are not available in contemplating mode (each agent has its own)",
                          "unsupported_parameter");
  }
  if (has("muse_tools")) {
    const json& v = body["muse_tools"];
    if (v.is_boolean()) r.builtin_tools = v.get<bool>();
    else if (v.is_string() && (v == "on" || v == "off")) r.builtin_tools = v == "on";
    else throw wrong_type("muse_tools", "\"on\", \"off\" or a boolean", v);
  }
  if (has("muse_spawn")) parse_spawn_switch(body["muse_spawn"], r);
  r.client_tools = parse_client_tools(body);
  if (r.spawn) {
    const char* why = r.mode == AnswerMode::Contemplating ? "mode"
                      : r.n != 1                          ? "n"
                      : r.logprobs                        ? "logprobs"
                      : r.client_tools.calls_allowed()    ? "tools"
                      : r.client_tools.format != ResponseFormat::Text ? "response_format"
                                                                      : nullptr;
    if (why)
      throw invalid_param(why, std::string("muse_spawn runs one agent tree in standard mode, with n = 1, no logprobs, "
                                           "no client tools and a text answer; '") + why + "' asks for more",
                          "unsupported_parameter");
  }
  if (r.mode == AnswerMode::Contemplating && r.client_tools.calls_allowed())
    throw invalid_param("tools", "contemplating mode runs only the built-in tools; send client tools in standard mode",
                        "unsupported_parameter");
  if (r.mode == AnswerMode::Contemplating && r.client_tools.format != ResponseFormat::Text)
    throw invalid_param("response_format", "contemplating mode answers in text; ask for JSON in standard mode",
                        "unsupported_parameter");
  if (!r.messages.empty() && r.messages.back().open && r.mode == AnswerMode::Contemplating)
    throw invalid_param("mode", "a turn continued after tool results is answered in standard mode",
                        "unsupported_parameter");
  return r;
}

AnswerMode check_mode(const std::string& mode, const std::string& param) {
  if (mode == "contemplating") return AnswerMode::Contemplating;
  if (mode == "standard") return AnswerMode::Standard;
  throw invalid_param(param, (param == "model" ? "the model name's mode suffix" : std::string("'mode'")) +
                                 " must be standard or contemplating, got '" + mode + "'");
}

int thinking_budget(const ChatRequest& request) {
  if (request.thinking_budget_tokens) return *request.thinking_budget_tokens;
  switch (request.reasoning_effort) {
    case ReasoningEffort::Low: return thinking_budget_for_effort("low");
    case ReasoningEffort::Medium: return thinking_budget_for_effort("medium");
    case ReasoningEffort::High: return thinking_budget_for_effort("high");
    case ReasoningEffort::Unset: break;
  }
  return -1;
}

const char* openai_finish_reason(FinishReason reason) {
  switch (reason) {
    case FinishReason::Length:
    case FinishReason::Context: return "length";
    default: return "stop";
  }
}

json usage_json(const Usage& usage) {
  return json{{"prompt_tokens", usage.prompt_tokens},
              {"completion_tokens", usage.completion_tokens},
              {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
              {"completion_tokens_details", {{"reasoning_tokens", usage.reasoning_tokens}}}};
}

namespace {
json logprob_value(float x) { return std::isfinite(x) ? json(x) : json(nullptr); }
json token_bytes(const std::string& s) {
  json bytes = json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}
json logprobs_json(const std::vector<TokenLogprob>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& [text, lp] : t.top)
      top.push_back({{"token", text}, {"logprob", logprob_value(lp)}, {"bytes", token_bytes(text)}});
    content.push_back(
        {{"token", t.token}, {"logprob", logprob_value(t.logprob)}, {"bytes", token_bytes(t.token)}, {"top_logprobs", top}});
  }
  return json{{"content", content}};
}
}  // namespace

json timings_json(const Timings& t) {
  auto per_second = [](int64_t n, double ms) { return ms > 0 ? 1000.0 * static_cast<double>(n) / ms : 0.0; };
  return json{{"prompt_n", t.prompt_n},
              {"prompt_ms", t.prompt_ms},
              {"prompt_per_second", per_second(t.prompt_n, t.prompt_ms)},
              {"predicted_n", t.predicted_n},
              {"predicted_ms", t.predicted_ms},
              {"predicted_per_second", per_second(t.predicted_n, t.predicted_ms)},
              {"cache_n", t.cache_n}};
}

json server_tool_call_json(const ServerToolCall& call) {
  json j{{"index", call.index},
         {"id", call.id()},
         {"type", "function"},
         {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
  if (!call.box.is_null()) {
    j["muse_box"] = call.box;
    j["muse_image"] = call.image;
  }
  return j;
}

json server_tool_result_json(const ServerToolCall& call) {
  json j{{"tool_call_id", call.id()}, {"content", call.result}, {"is_error", call.is_error}};
  if (!call.crop.is_null()) j["muse_crop"] = call.crop;
  return j;
}

json completion_json(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                     const Timings* timings) {
  json out_choices = json::array();
  for (const auto& c : choices) {
    json message{{"role", "assistant"}, {"content", c.content}};
    if (!c.reasoning.empty()) message["reasoning_content"] = c.reasoning;
    if (!c.client_calls.empty()) {
      json calls = json::array();
      for (const auto& call : c.client_calls) {
        json entry = client_tool_call_json(call);
        entry.erase("index");
        calls.push_back(std::move(entry));
      }
      message["tool_calls"] = std::move(calls);
      if (c.content.empty()) message["content"] = nullptr;
    }
    if (!c.tool_calls.empty()) {
      json calls = json::array();
      for (const auto& call : c.tool_calls) {
        json entry = server_tool_call_json(call);
        entry["result"] = server_tool_result_json(call);
        entry["result"].erase("tool_call_id");
        calls.push_back(std::move(entry));
      }
      message["muse_tool_calls"] = std::move(calls);
    }
    out_choices.push_back({{"index", c.index},
                           {"message", message},
                           {"logprobs", c.logprobs ? logprobs_json(*c.logprobs) : json(nullptr)},
                           {"finish_reason", c.client_calls.empty() ? openai_finish_reason(c.finish_reason) : "tool_calls"}});
  }
  json out{{"id", meta.id},           {"object", "chat.completion"}, {"created", meta.created},
           {"model", meta.model},     {"choices", out_choices},      {"usage", usage_json(usage)}};
  if (timings) out["timings"] = timings_json(*timings);
  return out;
}

json chunk_json(const ResponseMeta& meta, int index, const Delta& delta, FinishReason finish, bool called) {
  json d = json::object();
  if (!delta.client_calls.empty()) {
    // OpenAI's fragments: the first of a call carries its id, type and name; later ones only more arguments.
    json calls = json::array();
    for (const auto& call : delta.client_calls) {
      json entry{{"index", call.index}, {"function", {{"arguments", call.arguments}}}};
      if (!call.id.empty()) {
        entry["id"] = call.id;
        entry["type"] = "function";
        entry["function"]["name"] = call.name;
      }
      calls.push_back(std::move(entry));
    }
    d["tool_calls"] = std::move(calls);
  }
  if (delta.role) d["role"] = "assistant";
  if (!delta.reasoning.empty()) d["reasoning_content"] = delta.reasoning;
  if (!delta.content.empty()) d["content"] = delta.content;
  if (!delta.tool_calls.empty()) {
    json calls = json::array(), results = json::array();
    for (const auto& call : delta.tool_calls) {
      calls.push_back(server_tool_call_json(call));
      results.push_back(server_tool_result_json(call));
    }
    d["muse_tool_calls"] = std::move(calls);
    d["muse_tool_results"] = std::move(results);
  }
  json choice{{"index", index},
              {"delta", d},
              {"logprobs", delta.logprobs.empty() ? json(nullptr) : logprobs_json(delta.logprobs)},
              {"finish_reason", finish == FinishReason::None ? json(nullptr)
                                : called                     ? json("tool_calls")
                                                             : json(openai_finish_reason(finish))}};
  return json{{"id", meta.id},       {"object", "chat.completion.chunk"}, {"created", meta.created},
              {"model", meta.model}, {"choices", json::array({choice})}};
}

json usage_chunk_json(const ResponseMeta& meta, const Usage& usage, const Timings* timings) {
  json out{{"id", meta.id},       {"object", "chat.completion.chunk"}, {"created", meta.created},
           {"model", meta.model}, {"choices", json::array()},          {"usage", usage_json(usage)}};
  if (timings) out["timings"] = timings_json(*timings);
  return out;
}

std::string sse_data(const json& value) { return "data: " + dump_json(value) + "\n\n"; }

}  // namespace muse::server

// The OpenAI request parser and response builders, without sockets.
#include <gtest/gtest.h>

#include <cmath>

#include "server/openai.h"

namespace muse::server {
namespace {
using nlohmann::json;

std::string base64(const std::string& bytes) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += a[(v >> s) & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += a[(v >> 18) & 63], out += a[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += a[(v >> 18) & 63], out += a[(v >> 12) & 63], out += a[(v >> 6) & 63], out += "=";
  }
  return out;
}

std::string png_data_url() {
  const auto png = encode_png(make_image(16, 12, 10, 200, 30));
  return "data:image/png;base64," + base64(std::string(png.begin(), png.end()));
}

json user(const json& content) { return json{{"role", "user"}, {"content", content}}; }
json with_messages(const json& messages) { return json{{"model", "m"}, {"messages", messages}}; }
json simple() { return with_messages(json::array({user("hi")})); }

// Expects parse_chat_request to refuse `body`, naming `param`; returns the error for further checks.
ApiError refused(const json& body, const std::string& param, const RequestLimits& limits = {}) {
  try {
    parse_chat_request(body, limits);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, param) << e.what();
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    return e;
  }
  ADD_FAILURE() << "accepted: " << body.dump();
  return ApiError(0, "", "", "", "");
}

TEST(OpenAiBase64, DecodesAndRejects) {
  EXPECT_EQ(base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8"), "hello");  // padding optional
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_EQ(base64_decode(base64(std::string("\x00\xff\x10", 3))), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(base64_decode("aGVs*G8="));
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("aGVsbG8=="));
  EXPECT_FALSE(base64_decode("aGV sbG8="));
}

TEST(OpenAiRequest, ParsesEveryField) {
  json body = simple();
  body["max_completion_tokens"] = 40;
  body["temperature"] = 0.5;
  body["top_p"] = 0.9;
  body["seed"] = 7;
  body["n"] = 3;
  body["stop"] = json::array({"\n\n", "END"});
  body["logprobs"] = true;
  body["top_logprobs"] = 2;
  body["reasoning_effort"] = "low";
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  body["frequency_penalty"] = 0;  // unknown fields are ignored
  const ChatRequest r = parse_chat_request(body);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, Role::User);
  EXPECT_EQ(segments_text(r.messages[0].content), "hi");
  EXPECT_EQ(r.max_tokens, 40);
  EXPECT_DOUBLE_EQ(*r.temperature, 0.5);
  EXPECT_DOUBLE_EQ(r.top_p, 0.9);
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  EXPECT_EQ(r.reasoning_effort, ReasoningEffort::Low);
  EXPECT_EQ(thinking_budget(r), 32);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiRequest, DefaultsAndAliases) {
  ChatRequest r = parse_chat_request(simple().dump());
  EXPECT_FALSE(r.max_tokens);
  EXPECT_FALSE(r.temperature);
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(thinking_budget(r), -1);
  json body = simple();
  body["max_tokens"] = 12;
  body["stop"] = "x";
  body["reasoning_budget_tokens"] = 5;
  body["reasoning_effort"] = "high";
  body["temperature"] = nullptr;  // null = not given
  r = parse_chat_request(body);
  EXPECT_EQ(r.max_tokens, 12);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(thinking_budget(r), 5);  // the explicit budget wins over the effort
  body.erase("reasoning_budget_tokens");
  body["thinking_budget_tokens"] = 0;
  EXPECT_EQ(thinking_budget(parse_chat_request(body)), 0);
  // {"min", "max"}: at least / at most that many thinking tokens, either optional.
  body["thinking_budget_tokens"] = {{"min", 8}, {"max", 40}};
  r = parse_chat_request(body);
  EXPECT_EQ(thinking_budget(r), 40);
  EXPECT_EQ(r.min_thinking_tokens, 8);
  body["thinking_budget_tokens"] = {{"min", 8}};
  r = parse_chat_request(body);
  EXPECT_EQ(thinking_budget(r), -1);  // reasoning_effort "high": no limit
  EXPECT_EQ(r.min_thinking_tokens, 8);
}

TEST(OpenAiRequest, MessagesRolesAndParts) {
  json messages = json::array();
  messages.push_back({{"role", "developer"}, {"content", "be brief"}});
  messages.push_back(user(json::array({json{{"type", "text"}, {"text", "look: "}},
                                       json{{"type", "image_url"}, {"image_url", {{"url", png_data_url()}}}},
                                       json{{"type", "table"}, {"table", {{"csv", "a,b\n1,2\n"}}}},
                                       json{{"type", "table"}, {"table", {{"json", json::array({json{{"x", 1}}, json{{"x", 2}}})}}}}})));
  messages.push_back({{"role", "assistant"}, {"content", "42"}, {"reasoning_content", "6*7"}});
  messages.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({{{"id", "c1"},
      {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}}})}});
  messages.push_back({{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "result"}});
  const ChatRequest r = parse_chat_request(with_messages(messages));
  ASSERT_EQ(r.messages.size(), 4u) << "the tool message is folded into the call it answers";
  EXPECT_EQ(r.messages[0].role, Role::System);
  const auto& parts = r.messages[1].content;
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[1].kind, SegmentKind::Image);
  EXPECT_EQ(parts[1].image->width, 16);
  EXPECT_EQ(parts[1].image->height, 12);
  EXPECT_EQ(parts[2].kind, SegmentKind::Table);
  EXPECT_EQ(parts[2].table->header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parts[3].table->rows.size(), 2u);
  EXPECT_EQ(r.messages[2].thinking, "6*7");
  EXPECT_TRUE(r.messages[3].content.empty());
  ASSERT_EQ(r.messages[3].thinking_tool_calls.size(), 1u);
  EXPECT_EQ(r.messages[3].thinking_tool_calls[0].result[0].text, "result");
}

TEST(OpenAiRequest, BadBodiesNameTheParam) {
  EXPECT_EQ(refused(json::array(), "").code, "invalid_json");
  try {
    parse_chat_request(std::string("{\"messages\": [}"));
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code, "invalid_json");
  }
  refused(json{{"model", "m"}}, "messages");
  refused(with_messages(json::array()), "messages");
  refused(with_messages("hi"), "messages");
  refused(json{{"model", 3}, {"messages", json::array({user("hi")})}}, "model");
  refused(with_messages(json::array({user("hi"), "oops"})), "messages[1]");
  refused(with_messages(json::array({json{{"role", "wizard"}, {"content", "x"}}})), "messages[0].role");
  refused(with_messages(json::array({json{{"content", "x"}}})), "messages[0].role");
  refused(with_messages(json::array({json{{"role", "user"}}})), "messages[0].content");
  refused(with_messages(json::array({user(5)})), "messages[0].content");
  refused(with_messages(json::array({user(json::array({json{{"type", "audio"}}}))})), "messages[0].content[0].type");
  refused(with_messages(json::array({user(json::array({json{{"text", "x"}}}))})), "messages[0].content[0].type");
  refused(with_messages(json::array({user(json::array({json{{"type", "text"}, {"text", 1}}}))})),
          "messages[0].content[0].text");
  refused(with_messages(json::array({json{{"role", "user"}, {"content", "x"}, {"reasoning_content", "y"}}})),
          "messages[0].reasoning_content");
}

TEST(OpenAiRequest, BadNumbersNameTheParam) {
  auto with = [](const char* key, const json& value) {
    json body = simple();
    body[key] = value;
    return body;
  };
  refused(with("max_tokens", -1), "max_tokens");
  refused(with("max_tokens", 0), "max_tokens");
  refused(with("max_tokens", "10"), "max_tokens");
  refused(with("max_tokens", 2.5), "max_tokens");
  refused(with("max_completion_tokens", 1e12), "max_completion_tokens");
  RequestLimits small;
  small.max_tokens = 100;
  refused(with("max_tokens", 101), "max_tokens", small);
  EXPECT_EQ(parse_chat_request(with("max_tokens", 100.0), small).max_tokens, 100);
  refused(with("temperature", -0.1), "temperature");
  refused(with("temperature", 3), "temperature");
  refused(with("temperature", "hot"), "temperature");
  refused(with("top_p", 0), "top_p");
  refused(with("top_p", 1.5), "top_p");
  refused(with("n", 0), "n");
  refused(json::parse(R"({"messages": [{"role": "user", "content": "1+1"}], "n": 0})"), "n");  // 0 parsed unsigned
  refused(with("n", 17), "n");
  refused(with("n", true), "n");
  refused(with("seed", "1"), "seed");
  refused(with("seed", 18446744073709551615ull), "seed");
  refused(with("stop", 3), "stop");
  refused(with("stop", json::array({"a", 1})), "stop[1]");
  refused(with("stop", json::array({"a", "b", "c", "d", "e"})), "stop");
  refused(with("stop", ""), "stop");
  refused(with("logprobs", "yes"), "logprobs");
  refused(with("top_logprobs", 3), "top_logprobs");  // without logprobs
  refused(with("top_logprobs", 21), "top_logprobs");
  refused(with("reasoning_effort", "max"), "reasoning_effort");
  refused(with("thinking_budget_tokens", -5), "thinking_budget_tokens");
  refused(with("reasoning_budget_tokens", "5"), "reasoning_budget_tokens");
  refused(with("thinking_budget_tokens", {{"min", 9}, {"max", 4}}), "thinking_budget_tokens");
  refused(with("thinking_budget_tokens", {{"least", 9}}), "thinking_budget_tokens");
  refused(with("thinking_budget_tokens", {{"min", -1}}), "thinking_budget_tokens.min");
  refused(with("stream", 1), "stream");
  refused(with("stream_options", true), "stream_options");
  refused(with("stream_options", {{"include_usage", "yes"}}), "stream_options.include_usage");
  refused(with("tools", json::array({{{"type", "function"}}})), "tools[0].function");
  refused(with("tools", "calculator"), "tools");
  refused(with("response_format", {{"type", "xml"}}), "response_format.type");
  refused(with("response_format", {{"type", "json_schema"}}), "response_format.json_schema");
  refused(with("mode", "fast"), "mode");
  refused(with("mode", 2), "mode");
  // The mode by the model's name, for clients that cannot send extra fields.
  EXPECT_EQ(parse_chat_request(with("model", "default:standard")).model, "default");
  refused(with("model", "default:fast"), "model");
}

TEST(OpenAiRequest, ContemplatingByModeOrByTheModelsName) {
  auto with = [](const char* key, const json& value) {
    json body = simple();
    body[key] = value;
    return body;
  };
  const ChatRequest plain = parse_chat_request(with("max_tokens", 8));
  EXPECT_EQ(plain.mode, AnswerMode::Standard);
  const ChatRequest by_mode = parse_chat_request(with("mode", "contemplating"));
  EXPECT_EQ(by_mode.mode, AnswerMode::Contemplating);
  EXPECT_EQ(by_mode.agents, 8);
  EXPECT_EQ(by_mode.synthesis, Synthesis::Confidence);
  json body = with("model", "default:contemplating");
  body["muse_agents"] = 16;
  body["muse_synthesis"] = "online";
  const ChatRequest by_name = parse_chat_request(body);
  EXPECT_EQ(by_name.mode, AnswerMode::Contemplating);
  EXPECT_EQ(by_name.model, "default");
  EXPECT_EQ(by_name.agents, 16);
  EXPECT_EQ(by_name.synthesis, Synthesis::Online);
  body["mode"] = "standard";
  refused(body, "mode");  // the two disagree
  json contemplating = with("mode", "contemplating");
  auto also = [&](const char* key, const json& value) {
    json b = contemplating;
    b[key] = value;
    return b;
  };
  refused(also("muse_agents", 0), "muse_agents");
  refused(also("muse_agents", 65), "muse_agents");
  refused(also("muse_agents", "8"), "muse_agents");
  refused(also("muse_synthesis", "majority"), "muse_synthesis");
  refused(also("n", 2), "n");
  EXPECT_EQ(refused(also("logprobs", true), "logprobs").code, "unsupported_parameter");
  refused(also("temperature", 0), "temperature");  // every agent would write the same trace
  json one = also("temperature", 0);
  one["muse_agents"] = 1;
  EXPECT_EQ(parse_chat_request(one).agents, 1);  // one greedy agent is fine
}

TEST(OpenAiRequest, SubAgentsBySwitchOrByLimits) {
  auto with = [](const json& spawn) {
    json body = simple();
    body["muse_spawn"] = spawn;
    return body;
  };
  EXPECT_FALSE(parse_chat_request(simple()).spawn);  // off unless asked for
  EXPECT_TRUE(parse_chat_request(with("on")).spawn);
  EXPECT_TRUE(parse_chat_request(with(true)).spawn);
  EXPECT_FALSE(parse_chat_request(with("off")).spawn);
  const ChatRequest limited = parse_chat_request(with(json{{"max_depth", 2}, {"max_children", 3}, {"max_agents", 9},
                                                           {"child_max_tokens", 64}, {"max_seconds", 5.5}}));
  EXPECT_TRUE(limited.spawn);
  EXPECT_EQ(limited.spawn_limits.max_depth, 2);
  EXPECT_EQ(limited.spawn_limits.max_children, 3);
  EXPECT_EQ(limited.spawn_limits.max_agents, 9);
  EXPECT_EQ(limited.spawn_limits.child_max_tokens, 64);
  EXPECT_DOUBLE_EQ(limited.spawn_limits.max_seconds, 5.5);
  EXPECT_EQ(limited.spawn_limits.max_spawns, SpawnLimits{}.max_spawns);  // the rest keep their defaults
  refused(with("yes"), "muse_spawn");
  refused(with(json{{"depth", 2}}), "muse_spawn");  // an unknown limit is named
  refused(with(json{{"max_depth", 9}}), "muse_spawn.max_depth");
  refused(with(json{{"max_children", 0}}), "muse_spawn.max_children");
  refused(with(json{{"max_seconds", -1}}), "muse_spawn.max_seconds");
  auto also = [&](const char* key, const json& value) {
    json b = with("on");
    b[key] = value;
    return b;
  };
  EXPECT_EQ(refused(also("n", 2), "n").code, "unsupported_parameter");
  refused(also("mode", "contemplating"), "mode");
  refused(also("logprobs", true), "logprobs");
  refused(also("response_format", json{{"type", "json_object"}}), "response_format");
  const json tool{{"type", "function"}, {"function", {{"name", "get_time"}, {"parameters", {{"type", "object"}}}}}};
  refused(also("tools", json::array({tool})), "tools");
}

TEST(OpenAiRequest, BadImagesNameTheUrl) {
  auto image = [](const json& image_url) {
    return with_messages(json::array({user(json::array({json{{"type", "text"}, {"text", "what?"}},
                                                        json{{"type", "image_url"}, {"image_url", image_url}}}))}));
  };
  const std::string param = "messages[0].content[1].image_url.url";
  EXPECT_EQ(refused(image({{"url", "https://example.com/cat.png"}}), param).code, "unsupported_url");
  EXPECT_EQ(refused(image({{"url", "http://example.com/cat.png"}}), param).code, "unsupported_url");
  EXPECT_EQ(refused(image({{"url", "file:///etc/passwd"}}), param).code, "invalid_url");
  EXPECT_EQ(refused(image({{"url", "data:image/png,rawbytes"}}), param).code, "invalid_url");
  EXPECT_EQ(refused(image({{"url", "data:image/gif;base64,R0lGOD"}}), param).code, "invalid_image_format");
  EXPECT_EQ(refused(image({{"url", "data:image/png;base64,@@@@"}}), param).code, "invalid_base64");
  EXPECT_EQ(refused(image({{"url", "data:image/png;base64," + base64("not a png at all")}}), param).code,
            "invalid_image");
  // A truncated PNG: the decoder refuses it.
  const auto png = encode_png(make_image(64, 64, 1, 2, 3));
  const std::string half(png.begin(), png.begin() + static_cast<long>(png.size() / 2));
  EXPECT_EQ(refused(image({{"url", "data:image/png;base64," + base64(half)}}), param).code, "invalid_image");
  refused(image({{"url", 5}}), param);
  refused(image(json::object()), param);
  refused(image(json(7)), "messages[0].content[1].image_url");
  RequestLimits text_only;
  text_only.images = false;
  EXPECT_EQ(refused(image({{"url", png_data_url()}}), "messages[0].content[1]", text_only).code,
            "unsupported_content");
  // Images belong to user messages.
  refused(with_messages(json::array({json{{"role", "system"},
                                          {"content", json::array({json{{"type", "image_url"},
                                                                         {"image_url", {{"url", png_data_url()}}}}})}}})),
          "messages[0].content[0].type");
}

TEST(OpenAiRequest, BadTablesNameTheTable) {
  auto table = [](const json& t) {
    return with_messages(json::array({user(json::array({json{{"type", "table"}, {"table", t}}}))}));
  };
  refused(table({{"csv", "a,b\n1\n"}}), "messages[0].content[0].table.csv");  // ragged
  refused(table({{"csv", 5}}), "messages[0].content[0].table.csv");
  refused(table({{"json", 5}}), "messages[0].content[0].table.json");
  refused(table({{"xml", "<t/>"}}), "messages[0].content[0].table");
  refused(table("a,b"), "messages[0].content[0].table");
}

TEST(OpenAiResponse, CompletionShape) {
  ResponseMeta meta{"chatcmpl-1", 100, "default"};
  Choice a;
  a.content = "42";
  a.reasoning = "6*7=42";
  Choice b;
  b.index = 1;
  b.content = "4";
  b.finish_reason = FinishReason::Length;
  b.logprobs = std::vector<TokenLogprob>{{"4", -0.5f, {{"4", -0.5f}, {"5", -1.0f}}}, {"<|/think|>", NAN, {}}};
  Usage usage{10, 7, 3, 0};
  const json j = completion_json(meta, {a, b}, usage);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["model"], "default");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "42");
  EXPECT_EQ(j["choices"][0]["message"]["reasoning_content"], "6*7=42");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][1]["finish_reason"], "length");
  EXPECT_FALSE(j["choices"][1]["message"].contains("reasoning_content"));
  const json& lp = j["choices"][1]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_EQ(lp[0]["token"], "4");
  EXPECT_FLOAT_EQ(lp[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(lp[0]["bytes"], json::array({52}));
  EXPECT_EQ(lp[0]["top_logprobs"][1]["token"], "5");
  EXPECT_TRUE(lp[1]["logprob"].is_null());  // a forced token has no log-probability
  EXPECT_EQ(j["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(j["usage"]["completion_tokens"], 7);
  EXPECT_EQ(j["usage"]["total_tokens"], 17);
  EXPECT_EQ(j["usage"]["completion_tokens_details"]["reasoning_tokens"], 3);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(openai_finish_reason(FinishReason::Context), std::string("length"));
}

TEST(OpenAiResponse, ChunksAndSse) {
  ResponseMeta meta{"chatcmpl-2", 5, "m"};
  json first = chunk_json(meta, 0, Delta{true, "", ""}, FinishReason::None);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  json think = chunk_json(meta, 2, Delta{false, "hmm", ""}, FinishReason::None);
  EXPECT_EQ(think["choices"][0]["index"], 2);
  EXPECT_EQ(think["choices"][0]["delta"], json({{"reasoning_content", "hmm"}}));
  json answer = chunk_json(meta, 0, Delta{false, "", "42"}, FinishReason::None);
  EXPECT_EQ(answer["choices"][0]["delta"], json({{"content", "42"}}));
  json last = chunk_json(meta, 0, Delta{}, FinishReason::Stop);
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  json usage = usage_chunk_json(meta, Usage{3, 4, 1, 0});
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 7);
  EXPECT_EQ(sse_data(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(std::string(sse_done()), "data: [DONE]\n\n");
}

TEST(OpenAiResponse, InvalidUtf8NeverThrows) {
  const std::string bad = "caf\xc3 \xff!";
  EXPECT_NO_THROW(dump_json(json{{"content", bad}}));
  const ApiError e = invalid_param("messages[0]", "bad: " + bad);
  std::string out;
  EXPECT_NO_THROW(out = dump_json(error_json(e)));
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  // Invalid UTF-8 in the body: the parser refuses it, and the error (which may quote the bytes) still dumps.
  try {
    parse_chat_request(std::string("{\"messages\":[{\"role\":\"x\xff\",\"content\":\"y\"}]}"));
    ADD_FAILURE();
  } catch (const ApiError& err) {
    EXPECT_NO_THROW(dump_json(error_json(err)));
  }
}

TEST(OpenAiErrors, KindsMapToStatuses) {
  EXPECT_EQ(api_error_from(MuseError(ErrorKind::InvalidRequest, "x")).status, 400);
  EXPECT_EQ(api_error_from(MuseError(ErrorKind::NotFound, "x")).status, 404);
  const ApiError over = api_error_from(MuseError(ErrorKind::OverCapacity, "x"));
  EXPECT_EQ(over.status, 400);
  EXPECT_EQ(over.code, "context_length_exceeded");
  EXPECT_EQ(api_error_from(MuseError(ErrorKind::Busy, "x")).status, 503);
  EXPECT_EQ(api_error_from(MuseError(ErrorKind::Timeout, "x")).status, 504);
  const ApiError internal = api_error_from(MuseError(ErrorKind::Internal, "x"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.type, "server_error");
  const json body = error_json(invalid_param("n", "bad n", "invalid_value"));
  EXPECT_EQ(body["error"]["message"], "bad n");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["param"], "n");
  EXPECT_EQ(body["error"]["code"], "invalid_value");
  EXPECT_TRUE(error_json(ApiError(500, "server_error", "", "", "x"))["error"]["param"].is_null());
}

}  // namespace
}  // namespace muse::server

namespace muse::server {
namespace {
using nlohmann::json;

// Built-in tool calls: the muse_tools switch, and the extension fields they stream in (never OpenAI's
// tool_calls, which a client library would try to run itself).
TEST(OpenAiTools, TheSwitchAndTheWireShapeOfServerSideCalls) {
  const json hi = json::array({json{{"role", "user"}, {"content", "2^64?"}}});
  EXPECT_TRUE(parse_chat_request(json{{"messages", hi}}).builtin_tools);
  EXPECT_FALSE(parse_chat_request(json{{"messages", hi}, {"muse_tools", "off"}}).builtin_tools);
  EXPECT_FALSE(parse_chat_request(json{{"messages", hi}, {"muse_tools", false}}).builtin_tools);
  for (const json& bad : {json("maybe"), json(1), json::array()}) {
    try {
      parse_chat_request(json{{"messages", hi}, {"muse_tools", bad}});
      ADD_FAILURE() << bad.dump();
    } catch (const ApiError& e) {
      EXPECT_EQ(e.param, "muse_tools");
      EXPECT_EQ(e.status, 400);
    }
  }
  ServerToolCall zoom;
  zoom.index = 1;
  zoom.name = "zoom";
  zoom.arguments = "{\"bbox_2d\":[1,0,2,0],\"unit\":\"patch\"}";
  zoom.box = json::array({64, 0, 128, 32});
  zoom.image = 0;
  zoom.crop = json::array({64, 32});
  zoom.result = "(a 80x40 view)";
  ServerToolCall bad;
  bad.name = "calculator";
  bad.arguments = "{\"expression\":\"1/0\"}";
  bad.result = "error: invalid_input: division by zero";
  bad.is_error = true;
  Delta delta;
  delta.tool_calls = {bad, zoom};
  const json chunk = chunk_json(ResponseMeta{"c", 1, "m"}, 0, delta, FinishReason::None);
  const json& d = chunk["choices"][0]["delta"];
  EXPECT_FALSE(d.contains("tool_calls"));
  ASSERT_EQ(d["muse_tool_calls"].size(), 2u);
  EXPECT_EQ(d["muse_tool_calls"][1],
            json({{"index", 1}, {"id", "call_1"}, {"type", "function"},
                  {"function", {{"name", "zoom"}, {"arguments", zoom.arguments}}},
                  {"muse_box", {64, 0, 128, 32}}, {"muse_image", 0}}));
  EXPECT_FALSE(d["muse_tool_calls"][0].contains("muse_box"));
  EXPECT_EQ(d["muse_tool_results"][0],
            json({{"tool_call_id", "call_0"}, {"content", bad.result}, {"is_error", true}}));
  EXPECT_EQ(d["muse_tool_results"][1]["muse_crop"], json({64, 32}));
  Choice choice;
  choice.content = "79";
  choice.tool_calls = {zoom};
  const json done = completion_json(ResponseMeta{"c", 1, "m"}, {choice}, Usage{});
  const json& message = done["choices"][0]["message"];
  EXPECT_FALSE(message.contains("tool_calls"));
  EXPECT_EQ(message["muse_tool_calls"][0]["result"], json({{"content", zoom.result}, {"is_error", false},
                                                            {"muse_crop", {64, 32}}}));
  EXPECT_EQ(done["choices"][0]["finish_reason"], "stop");
}

TEST(OpenAiResponse, StreamedChunksCarryTheirTokensLogprobs) {
  Delta delta;
  delta.content = "4";
  delta.logprobs.push_back({"4", -0.25f, {{"4", -0.25f}, {"5", -1.5f}}});
  const json chunk = chunk_json(ResponseMeta{"c", 1, "m"}, 0, delta, FinishReason::None);
  const json& lp = chunk["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 1u);
  EXPECT_EQ(lp[0]["token"], "4");
  EXPECT_EQ(lp[0]["logprob"], -0.25);
  EXPECT_EQ(lp[0]["top_logprobs"][1]["token"], "5");
  EXPECT_TRUE(chunk_json(ResponseMeta{"c", 1, "m"}, 0, Delta{}, FinishReason::Stop)["choices"][0]["logprobs"].is_null());
}

TEST(OpenAiResponse, TimingsInLlamaCppsShape) {
  Timings t;
  t.prompt_n = 40;
  t.prompt_ms = 20;
  t.predicted_n = 30;
  t.predicted_ms = 600;
  const json j = timings_json(t);
  EXPECT_EQ(j["prompt_per_second"], 2000.0);
  EXPECT_EQ(j["predicted_per_second"], 50.0);
  EXPECT_EQ(j["cache_n"], 0);
  EXPECT_EQ(completion_json(ResponseMeta{"c", 1, "m"}, {}, Usage{}, &t)["timings"], j);
  EXPECT_FALSE(completion_json(ResponseMeta{"c", 1, "m"}, {}, Usage{}).contains("timings"));
  EXPECT_EQ(usage_chunk_json(ResponseMeta{"c", 1, "m"}, Usage{}, &t)["timings"]["predicted_n"], 30);
  EXPECT_EQ(timings_json(Timings{})["predicted_per_second"], 0.0);  // nothing generated: no division by zero
}

}  // namespace
}  // namespace muse::server

namespace muse::server {
namespace {

json tools_with_weather() {
  return json::array({{{"type", "function"},
                       {"function",
                        {{"name", "get_weather"},
                         {"description", "The weather in a city"},
                         {"parameters",
                          {{"type", "object"},
                           {"properties", {{"city", {{"type", "string"}}}, {"unit", {{"enum", {"c", "f"}}}}}},
                           {"required", {"city"}}}}}}}});
}

TEST(OpenAiClientTools, ToolsChoiceAndResponseFormatParse) {
  const json hi = json::array({{{"role", "user"}, {"content", "hi"}}});
  ChatRequest r = parse_chat_request(json{{"messages", hi}, {"tools", tools_with_weather()}});
  ASSERT_EQ(r.client_tools.functions.size(), 1u);
  EXPECT_EQ(r.client_tools.functions[0].name, "get_weather");
  EXPECT_EQ(r.client_tools.choice, ToolChoice::Auto);
  EXPECT_TRUE(r.client_tools.calls_allowed());
  r = parse_chat_request(json{{"messages", hi}, {"tools", tools_with_weather()}, {"tool_choice", "none"}});
  EXPECT_FALSE(r.client_tools.calls_allowed());
  r = parse_chat_request(json{{"messages", hi},
                              {"tools", tools_with_weather()},
                              {"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
                              {"parallel_tool_calls", false}});
  EXPECT_EQ(r.client_tools.choice, ToolChoice::Named);
  EXPECT_EQ(r.client_tools.named, "get_weather");
  EXPECT_FALSE(r.client_tools.parallel_tool_calls);
  r = parse_chat_request(json{{"messages", hi}, {"response_format", {{"type", "json_object"}}}});
  EXPECT_EQ(r.client_tools.format, ResponseFormat::JsonObject);
  ASSERT_TRUE(r.client_tools.answer_schema);
  r = parse_chat_request(json{{"messages", hi}, {"response_format", json::parse(R"({"type": "json_schema",
      "json_schema": {"name": "sum", "strict": true, "schema": {"type": "object",
      "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}}})")}});
  EXPECT_EQ(r.client_tools.format, ResponseFormat::JsonSchema);
  EXPECT_EQ(r.client_tools.format_name, "sum");
  // Contemplating does not mix with either.
  for (const json& extra : {json{{"tools", tools_with_weather()}}, json{{"response_format", {{"type", "json_object"}}}}}) {
    json body{{"messages", hi}, {"mode", "contemplating"}};
    body.update(extra);
    EXPECT_THROW(parse_chat_request(body), ApiError) << extra.dump();
  }
  EXPECT_EQ(functions_prompt(r.client_tools.functions), "Functions you can call:");
  EXPECT_EQ(functions_prompt(parse_chat_request(json{{"messages", hi}, {"tools", tools_with_weather()}}).client_tools.functions),
            "Functions you can call:\nget_weather(city: string, unit?: \"c\"|\"f\") - The weather in a city");
}

TEST(OpenAiClientTools, ToolMessagesAnswerTheCallsAndLeaveTheTurnOpen) {
  const json messages = json::array(
      {{{"role", "user"}, {"content", "Weather in Oslo?"}},
       {{"role", "assistant"},
        {"content", nullptr},
        {"reasoning_content", "I will look it up."},
        {"tool_calls", json::array({{{"id", "call_a"}, {"type", "function"},
                                     {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Oslo\"}"}}}},
                                    {{"id", "call_b"}, {"type", "function"},
                                     {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Bergen\"}"}}}}})}},
       {{"role", "tool"}, {"tool_call_id", "call_b"}, {"content", "rain"}},
       {{"role", "tool"}, {"tool_call_id", "call_a"}, {"content", "sunny, 12 C"}}});
  const ChatRequest r = parse_chat_request(json{{"messages", messages}, {"tools", tools_with_weather()}});
  ASSERT_EQ(r.messages.size(), 2u) << "tool messages fold into the assistant's calls";
  const Message& turn = r.messages[1];
  EXPECT_TRUE(turn.open);
  EXPECT_EQ(turn.thinking, "I will look it up.");
  ASSERT_EQ(turn.thinking_tool_calls.size(), 2u);
  EXPECT_EQ(turn.thinking_tool_calls[0].arguments, json({{"city", "Oslo"}}));
  EXPECT_EQ(turn.thinking_tool_calls[0].at, turn.thinking.size());
  ASSERT_TRUE(turn.thinking_tool_calls[0].filled);
  EXPECT_EQ(turn.thinking_tool_calls[0].result[0].text, "sunny, 12 C") << "matched by id, not by order";
  EXPECT_EQ(turn.thinking_tool_calls[1].result[0].text, "rain");

  // Rendered open: the model continues its thinking right after the last result.
  const Tokenizer tok = Tokenizer::load(std::string(MUSE_SOURCE_DIR) + "/models/default/tokenizer.model");
  const TokenSequence seq = render_conversation(tok, r.messages, /*generation_prompt=*/true);
  const std::string text = tok.decode(seq.tokens, /*show_specials=*/true);
  const std::string tail = "<|tool_call|>get_weather {\"city\":\"Bergen\"}<|/tool_call|><|tool_result|>rain<|/tool_result|>";
  ASSERT_GE(text.size(), tail.size());
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail) << text;
  EXPECT_NE(text.find("<|assistant|><|think|>I will look it up.<|tool_call|>get_weather {\"city\":\"Oslo\"}"), std::string::npos)
      << text;

  // Followed by a user message the turn is closed history (its thinking dropped as usual).
  json later = messages;
  later.push_back({{"role", "user"}, {"content", "thanks"}});
  EXPECT_FALSE(parse_chat_request(json{{"messages", later}}).messages[1].open);
}

TEST(OpenAiClientTools, CallsInTheResponseAndTheStream) {
  const ResponseMeta meta{"chatcmpl-abc123", 1, "default"};
  Choice c;
  c.reasoning = "need the weather";
  c.finish_reason = FinishReason::Cancelled;
  c.client_calls.push_back({0, client_call_id(meta.id, 0, 0), "get_weather", "{\"city\":\"Oslo\"}"});
  const json out = completion_json(meta, {c}, Usage{});
  const json& choice = out["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  EXPECT_EQ(choice["message"]["tool_calls"][0],
            json({{"id", "call_abc123_0_0"}, {"type", "function"},
                  {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Oslo\"}"}}}}));
  Delta first;
  first.client_calls.push_back({0, "call_abc123_0_0", "get_weather", "{\"ci"});
  Delta more;
  more.client_calls.push_back({0, "", "", "ty\":\"Oslo\"}"});
  const json a = chunk_json(meta, 0, first, FinishReason::None)["choices"][0]["delta"]["tool_calls"][0];
  const json b = chunk_json(meta, 0, more, FinishReason::None)["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(a["id"], "call_abc123_0_0");
  EXPECT_EQ(a["function"]["name"], "get_weather");
  EXPECT_FALSE(b.contains("id"));
  EXPECT_FALSE(b["function"].contains("name"));
  EXPECT_EQ(a["function"]["arguments"].get<std::string>() + b["function"]["arguments"].get<std::string>(),
            "{\"city\":\"Oslo\"}");
  EXPECT_EQ(chunk_json(meta, 0, Delta{}, FinishReason::Cancelled, true)["choices"][0]["finish_reason"], "tool_calls");
}

}  // namespace
}  // namespace muse::server

// The server over real HTTP on 127.0.0.1 (an ephemeral port), serving the shipped models/default.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "server/server.h"

namespace muse::server {
namespace {
using nlohmann::json;

constexpr const char* kKey = "test-key";

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);
    ServerOptions options;
    options.port = 0;
    options.api_key = kKey;
    options.kv_mem = int64_t{64} << 20;
    options.max_body_bytes = 256 << 10;
    options.http_threads = 8;
    server_ = new Server(load_model_dir(std::string(MUSE_SOURCE_DIR) + "/models/default", torch::kCPU), options);
    port_ = server_->bind();
    thread_ = new std::thread([] { server_->listen(); });
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
  }

  static std::string base64_of(const std::string& bytes) {
    static const char* b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string encoded;
    for (size_t i = 0; i < bytes.size(); i += 3) {
      uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
      if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
      if (i + 2 < bytes.size()) v |= uint8_t(bytes[i + 2]);
      const size_t n = std::min<size_t>(3, bytes.size() - i);  // bytes in this group: n + 1 characters
      for (size_t k = 0; k < 4; ++k) encoded += k <= n ? b64[(v >> (18 - 6 * k)) & 63] : '=';
    }
    return encoded;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_bearer_token_auth(kKey);
    return c;
  }
  httplib::Result post(const json& body) { return post_text(body.dump()); }
  // A raw request, for tests that read the stream as it comes (set its content_receiver).
  static httplib::Request completion_request(const json& body) {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = body.dump();
    req.set_header("Content-Type", "application/json");
    req.set_header("Authorization", std::string("Bearer ") + kKey);
    return req;
  }
  httplib::Result post_text(const std::string& body) {
    return client().Post("/v1/chat/completions", body, "application/json");
  }
  static json ask(const std::string& prompt, int max_tokens) {
    return json{{"model", "default"},
                {"messages", json::array({json{{"role", "user"}, {"content", prompt}}})},
                {"max_tokens", max_tokens}};
  }
  // The error body of a refused request, checked for its status (and the server still answering after it).
  json expect_error(const httplib::Result& r, int status) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, status) << r->body;
    const json body = json::parse(r->body, nullptr, false);
    EXPECT_TRUE(body.contains("error")) << r->body;
    for (const char* key : {"message", "type", "param", "code"}) EXPECT_TRUE(body["error"].contains(key)) << r->body;
    expect_serves();
    return body["error"];
  }
  void expect_serves() {
    auto r = post(ask("1+1", 4));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  // The SSE events of a body: the JSON chunks, and whether it ended with [DONE].
  static std::vector<json> sse_events(const std::string& body, bool* done) {
    std::vector<json> events;
    *done = false;
    size_t pos = 0;
    while (pos < body.size()) {
      const size_t end = body.find("\n\n", pos);
      if (end == std::string::npos) break;
      const std::string line = body.substr(pos, end - pos);
      pos = end + 2;
      EXPECT_EQ(line.rfind("data: ", 0), 0u) << line;
      EXPECT_FALSE(*done) << "data after [DONE]";
      if (line == "data: [DONE]") *done = true;
      else events.push_back(json::parse(line.substr(6)));
    }
    EXPECT_EQ(pos, body.size()) << "trailing bytes";
    return events;
  }

  static Server* server_;
  static std::thread* thread_;
  static int port_;
};
Server* ServerTest::server_ = nullptr;
std::thread* ServerTest::thread_ = nullptr;
int ServerTest::port_ = 0;

TEST_F(ServerTest, HealthAndModels) {
  httplib::Client anonymous("127.0.0.1", port_);
  auto health = anonymous.Get("/health");  // no key needed
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");
  auto models = client().Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const json list = json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  EXPECT_EQ(list["data"][0]["id"], "default");
  EXPECT_EQ(expect_error(client().Get("/v1/nosuch"), 404)["code"], "not_found");
}

TEST_F(ServerTest, AnswersWithUsage) {
  auto r = post(ask("47+85", 64));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos);
  const json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "default");
  ASSERT_EQ(j["choices"].size(), 1u);
  const json& message = j["choices"][0]["message"];
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_EQ(message["content"], "132");  // the shipped model adds 2-digit numbers reliably (greedy; as `muse generate`)
  EXPECT_TRUE(message.contains("reasoning_content"));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  const json& usage = j["usage"];
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 3);
  EXPECT_GT(usage["completion_tokens"].get<int>(), 0);
  EXPECT_LE(usage["completion_tokens_details"]["reasoning_tokens"].get<int>(), usage["completion_tokens"].get<int>());
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());

  // A tiny max_tokens ends by length; logprobs come per token.
  json body = ask("47+85", 3);
  body["logprobs"] = true;
  body["top_logprobs"] = 2;
  r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json short_reply = json::parse(r->body);
  EXPECT_EQ(short_reply["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(short_reply["usage"]["completion_tokens"], 3);
  const json& lp = short_reply["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 3u);
  EXPECT_LE(lp[0]["logprob"].get<double>(), 0.0);
  EXPECT_EQ(lp[0]["top_logprobs"].size(), 2u);
}

TEST_F(ServerTest, StreamsReasoningThenContent) {
  json body = ask("47+85", 64);
  const json plain = json::parse(post(body)->body);
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  bool done = false;
  const auto events = sse_events(r->body, &done);
  EXPECT_TRUE(done);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string reasoning, content, finish;
  bool content_started = false, reasoning_after_content = false;
  json usage;
  for (const auto& e : events) {
    if (e.contains("usage")) {
      usage = e["usage"];
      EXPECT_TRUE(e["choices"].empty());
      continue;
    }
    EXPECT_TRUE(usage.is_null()) << "usage must be the last chunk";
    const json& delta = e["choices"][0]["delta"];
    if (delta.contains("reasoning_content")) {
      reasoning += delta["reasoning_content"].get<std::string>();
      reasoning_after_content = reasoning_after_content || content_started;
    }
    if (delta.contains("content")) {
      content += delta["content"].get<std::string>();
      content_started = true;
    }
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
  }
  EXPECT_FALSE(reasoning_after_content);
  EXPECT_FALSE(reasoning.empty());
  // The stream says exactly what the plain answer says (greedy).
  EXPECT_EQ(content, plain["choices"][0]["message"]["content"]);
  EXPECT_EQ(reasoning, plain["choices"][0]["message"]["reasoning_content"]);
  EXPECT_EQ(finish, "stop");
  ASSERT_FALSE(usage.is_null());
  EXPECT_EQ(usage["completion_tokens"], plain["usage"]["completion_tokens"]);
}

// muse_spawn: the shipped model splits a sum of products among sub-agents (it was trained to on `products`); the
// stream and the whole response describe the same tree, consistently.
TEST_F(ServerTest, SubAgentsStreamBesideTheRootAndTheTreeAddsUp) {
  json body = ask("What is 23*41+57*18?", 300);
  body["muse_spawn"] = {{"child_max_tokens", 96}};
  const auto whole = post(body);
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const json plain = json::parse(whole->body);
  const json& tree = plain["choices"][0]["message"]["muse_agents"];
  ASSERT_TRUE(tree["agents"].is_array()) << whole->body;
  EXPECT_TRUE(tree["agents"][0]["parent"].is_null());
  EXPECT_GE(tree["agents"].size(), 3u) << "the shipped model did not spawn: " << tree.dump();
  EXPECT_EQ(plain["usage"]["completion_tokens"], tree["tokens"]);
  for (size_t i = 1; i < tree["agents"].size(); ++i) {
    EXPECT_EQ(tree["agents"][i]["parent"], 0);
    EXPECT_LE(tree["agents"][i]["tokens"].get<int>(), 96);
    EXPECT_FALSE(tree["agents"][i]["task"].get<std::string>().empty());
  }

  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  bool done = false;
  const auto events = sse_events(r->body, &done);
  EXPECT_TRUE(done);
  std::set<int> announced, finished;
  json streamed_tree, usage;
  std::string content;
  for (const auto& e : events) {
    if (e.contains("usage")) {
      usage = e["usage"];
      continue;
    }
    const json& delta = e["choices"][0]["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (delta.contains("muse_agent")) {
      const json& a = delta["muse_agent"];
      const int index = a["index"];
      if (a.contains("task")) announced.insert(index);
      else EXPECT_TRUE(announced.count(index)) << "agent " << index << " streamed before it was announced";
      if (a.value("done", false)) finished.insert(index);
    }
    if (delta.contains("muse_agents")) streamed_tree = delta["muse_agents"];
  }
  ASSERT_FALSE(streamed_tree.is_null()) << r->body;
  EXPECT_EQ(announced.size() + 1, streamed_tree["agents"].size());
  EXPECT_EQ(finished, announced) << "every sub-agent reports its end";
  EXPECT_NE(content.find(streamed_tree["agents"][0]["content"].get<std::string>()), std::string::npos)
      << "the reply is the root's answer: " << content;
  ASSERT_FALSE(usage.is_null());
  EXPECT_EQ(usage["completion_tokens"], streamed_tree["tokens"]);
  expect_serves();
}

TEST_F(ServerTest, SamplesNChoices) {
  json body = ask("target 24 from 3 7 8 2", 24);
  body["n"] = 3;
  body["temperature"] = 0.9;
  body["seed"] = 5;
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  ASSERT_EQ(j["choices"].size(), 3u);
  int completion = 0;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  completion = j["usage"]["completion_tokens"].get<int>();
  EXPECT_GT(completion, 3);
  EXPECT_LE(completion, 3 * 24);
  // Streamed n = 3: every index finishes, then [DONE].
  body["stream"] = true;
  r = post(body);
  ASSERT_TRUE(r);
  bool done = false;
  std::set<int> finished;
  for (const auto& e : sse_events(r->body, &done))
    if (!e["choices"][0]["finish_reason"].is_null()) finished.insert(e["choices"][0]["index"].get<int>());
  EXPECT_TRUE(done);
  EXPECT_EQ(finished, (std::set<int>{0, 1, 2}));
}

TEST_F(ServerTest, RefusesBadRequestsAndKeepsServing) {
  httplib::Client anonymous("127.0.0.1", port_);
  EXPECT_EQ(expect_error(anonymous.Post("/v1/chat/completions", ask("1+1", 4).dump(), "application/json"), 401)["code"],
            "invalid_api_key");
  httplib::Client wrong("127.0.0.1", port_);
  wrong.set_bearer_token_auth("nope");
  EXPECT_EQ(expect_error(wrong.Get("/v1/models"), 401)["code"], "invalid_api_key");

  json other = ask("1+1", 4);
  other["model"] = "gpt-4o";
  json e = expect_error(post(other), 404);
  EXPECT_EQ(e["code"], "model_not_found");
  EXPECT_EQ(e["param"], "model");

  EXPECT_EQ(expect_error(post_text("{\"messages\": [ oops"), 400)["code"], "invalid_json");
  json wrong_type = ask("1+1", 4);
  wrong_type["max_tokens"] = "many";
  EXPECT_EQ(expect_error(post(wrong_type), 400)["param"], "max_tokens");
  json bad_role = ask("1+1", 4);
  bad_role["messages"][0]["role"] = "robot";
  EXPECT_EQ(expect_error(post(bad_role), 400)["param"], "messages[0].role");

  EXPECT_EQ(expect_error(post_text(std::string(300 << 10, ' ')), 413)["code"], "request_too_large");

  auto image_request = [](const std::string& url) {
    return json{{"model", "default"},
                {"max_tokens", 4},
                {"messages", json::array({json{{"role", "user"},
                                               {"content", json::array({json{{"type", "text"}, {"text", "count"}},
                                                                        json{{"type", "image_url"},
                                                                             {"image_url", {{"url", url}}}}})}}})}};
  };
  // A real PNG is read (the image goes through the decoder and the patch renderer).
  const auto png = encode_png(make_image(24, 16, 200, 30, 30));
  const std::string encoded = base64_of(std::string(png.begin(), png.end()));
  auto image_ok = post(image_request("data:image/png;base64," + encoded));
  ASSERT_TRUE(image_ok);
  EXPECT_EQ(image_ok->status, 200) << image_ok->body;

  e = expect_error(post(image_request("data:image/png;base64,%%%notbase64")), 400);
  EXPECT_EQ(e["param"], "messages[0].content[1].image_url.url");
  EXPECT_EQ(e["code"], "invalid_base64");
  e = expect_error(post(image_request("https://example.com/cat.png")), 400);
  EXPECT_EQ(e["param"], "messages[0].content[1].image_url.url");
  EXPECT_EQ(e["code"], "unsupported_url");

  // Too long for the context: the prompt, or the prompt plus max_tokens.
  e = expect_error(post(ask(std::string(3000, '7'), 4)), 400);
  EXPECT_EQ(e["code"], "context_length_exceeded");
  EXPECT_EQ(expect_error(post(ask("1+1", 100000)), 400)["param"], "max_tokens");

  // Invalid UTF-8 in the body is a 400, never a 500 from serializing the error.
  expect_error(post_text(std::string("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}")), 400);
}

// Malformed and hostile requests, one table: each gets its 4xx with an OpenAI-shaped body naming the offending
// param where there is one, and the server answers a normal request right after every one (expect_error).
TEST_F(ServerTest, HostileRequestsGetTheirErrorAndTheServerKeepsServing) {
  struct Case {
    const char* what;
    std::string body;
    int status;
    const char* param;  // nullptr: not checked
  };
  auto with = [](const char* key, json value) {
    json b = ask("1+1", 4);
    b[key] = std::move(value);
    return b.dump();
  };
  auto content = [](json parts) {
    return json{{"messages", json::array({json{{"role", "user"}, {"content", std::move(parts)}}})}}.dump();
  };
  const std::vector<Case> cases = {
      {"empty body", "", 400, nullptr},
      {"null", "null", 400, nullptr},
      {"an array", "[]", 400, nullptr},
      {"a string", "\"hi\"", 400, nullptr},
      {"truncated JSON", "{\"messages\": [{\"role\": \"user\", \"content\": \"1+", 400, nullptr},
      {"no messages", "{\"model\": \"default\"}", 400, "messages"},
      {"messages not an array", "{\"messages\": {\"role\": \"user\"}}", 400, "messages"},
      {"no message at all", "{\"messages\": []}", 400, "messages"},
      {"a message that is a number", "{\"messages\": [7]}", 400, "messages[0]"},
      {"a message without role", "{\"messages\": [{\"content\": \"hi\"}]}", 400, "messages[0].role"},
      {"content a number", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content"},
      {"an unknown part type", content(json::array({json{{"type", "audio"}}})), 400, "messages[0].content[0].type"},
      {"a text part without text", content(json::array({json{{"type", "text"}}})), 400, "messages[0].content[0].text"},
      {"an image part without url", content(json::array({json{{"type", "image_url"}, {"image_url", json::object()}}})),
       400, "messages[0].content[0].image_url.url"},
      {"a data URI that is not an image",
       content(json::array({json{{"type", "image_url"}, {"image_url", {{"url", "data:text/plain;base64,aGk="}}}}})),
       400, "messages[0].content[0].image_url.url"},
      {"a PNG that is not one",
       content(json::array({json{{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,aGVsbG8="}}}}})),
       400, "messages[0].content[0].image_url.url"},
      {"a table with an unclosed quote",
       content(json::array({json{{"type", "table"}, {"table", {{"csv", "a,b\n\"x,1\n"}}}}})), 400, nullptr},
      {"a table part with nothing in it", content(json::array({json{{"type", "table"}, {"table", json::object()}}})),
       400, nullptr},
      {"model a number", with("model", 3), 400, "model"},
      {"another model", with("model", "gpt-4o"), 404, "model"},
      {"max_tokens negative", with("max_tokens", -1), 400, "max_tokens"},
      {"max_tokens huge", with("max_tokens", 1e30), 400, "max_tokens"},
      {"max_tokens a string", with("max_tokens", "10"), 400, "max_tokens"},
      {"n zero", with("n", 0), 400, "n"},
      {"n too many", with("n", 1000), 400, "n"},
      {"temperature negative", with("temperature", -1), 400, "temperature"},
      {"temperature a word", with("temperature", "warm"), 400, "temperature"},
      {"top_p zero", with("top_p", 0), 400, "top_p"},
      {"seed not an integer", with("seed", 1.5), 400, "seed"},
      {"stop a number", with("stop", 9), 400, "stop"},
      {"five stop strings", with("stop", json::array({"a", "b", "c", "d", "e"})), 400, "stop"},
      {"logprobs a string", with("logprobs", "yes"), 400, "logprobs"},
      {"top_logprobs without logprobs", with("top_logprobs", 2), 400, "top_logprobs"},
      {"reasoning_effort unknown", with("reasoning_effort", "extreme"), 400, "reasoning_effort"},
      {"thinking budget negative", with("thinking_budget_tokens", -1), 400, "thinking_budget_tokens"},
      {"thinking budget min over max", with("thinking_budget_tokens", {{"min", 9}, {"max", 2}}), 400,
       "thinking_budget_tokens"},
      {"stream a string", with("stream", "true"), 400, "stream"},
      {"stream_options a list", with("stream_options", json::array()), 400, "stream_options"},
      {"a tool without its function", with("tools", json::array({{{"type", "function"}}})), 400, "tools[0].function"},
      {"a tool of another type", with("tools", json::array({{{"type", "web_search"}}})), 400, "tools[0].type"},
      {"a function name with a space", with("tools", json::array({{{"type", "function"}, {"function", {{"name", "get weather"}}}}})),
       400, "tools[0].function.name"},
      {"function parameters with an unsupported keyword",
       with("tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}, {"parameters",
            {{"type", "object"}, {"properties", {{"x", {{"type", "string"}, {"pattern", "^a"}}}}}}}}}}})),
       400, "tools[0].function.parameters"},
      {"tool_choice naming an unknown function", with("tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}),
       400, "tool_choice.function.name"},
      {"tool_choice required without tools", with("tool_choice", "required"), 400, "tool_choice"},
      {"parallel_tool_calls a string", with("parallel_tool_calls", "yes"), 400, "parallel_tool_calls"},
      {"a tool message answering no call",
       with("messages", json::array({{{"role", "user"}, {"content", "hi"}},
                                     {{"role", "tool"}, {"tool_call_id", "call_9"}, {"content", "42"}}})),
       400, "messages[1].tool_call_id"},
      {"assistant tool calls left unanswered",
       with("messages", json::array({{{"role", "user"}, {"content", "hi"}},
                                     {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({{{"id", "c1"},
                                        {"type", "function"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}}})}},
                                     {{"role", "user"}, {"content", "and?"}}})),
       400, "messages[2]"},
      {"tool call arguments that are not JSON",
       with("messages", json::array({{{"role", "user"}, {"content", "hi"}},
                                     {{"role", "assistant"}, {"tool_calls", json::array({{{"id", "c1"}, {"type", "function"},
                                        {"function", {{"name", "f"}, {"arguments", "{city: Oslo"}}}}})}},
                                     {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "sunny"}}})),
       400, "messages[1].tool_calls[0].function.arguments"},
      {"response_format of an unknown type", with("response_format", {{"type", "xml"}}), 400, "response_format.type"},
      {"a json_schema that cannot be followed", with("response_format", {{"type", "json_schema"}, {"json_schema",
         {{"name", "x"}, {"schema", {{"type", "integer"}, {"minimum", 3}}}}}}), 400, "response_format.json_schema.schema"},
      {"contemplating agents over the limit", with("muse_agents", 1000), 400, "muse_agents"},
      {"contemplating synthesis unknown", with("muse_synthesis", "majority"), 400, "muse_synthesis"},
      {"mode unknown", with("mode", "turbo"), 400, "mode"},
  };
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const json e = expect_error(post_text(c.body), c.status);
    if (c.param) EXPECT_EQ(e.value("param", json()), json(c.param)) << e.dump();
    EXPECT_FALSE(e.value("message", std::string()).empty());
  }
  // Routes and methods that do not exist, and steering a request that is not running.
  EXPECT_EQ(expect_error(client().Get("/v1/nothing"), 404)["code"], "not_found");
  EXPECT_EQ(expect_error(client().Post("/v1/chat/completions/chatcmpl-x/answer_now", "{}", "application/json"), 404)
                ["param"],
            "id");
}

// A client's function tools over HTTP with the shipped model: the model calls the client's `calculator` where it
// would call its own (a product past its in-head range), the reply ends with the call (plain and streamed in
// fragments), the client's result continues the turn, and the model answers from it.
TEST_F(ServerTest, ClientFunctionToolsRoundTrip) {
  const json calculator = {{"type", "function"},
                           {"function", {{"name", "calculator"}, {"description", "Evaluates arithmetic"},
                                         {"parameters", {{"type", "object"},
                                                         {"properties", {{"expression", {{"type", "string"}}}}},
                                                         {"required", {"expression"}}}}}}};
  json body = ask("What is 5821*3407?", 96);
  body["tools"] = json::array({calculator});
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json reply = json::parse(r->body);
  const json& choice = reply["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls") << r->body;
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r->body;
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["function"]["name"], "calculator");
  const json args = json::parse(call["function"]["arguments"].get<std::string>());
  ASSERT_TRUE(args["expression"].is_string()) << call.dump();
  EXPECT_NE(args["expression"].get<std::string>().find("5821"), std::string::npos) << call.dump();
  EXPECT_TRUE(choice["message"]["content"].is_null());
  EXPECT_FALSE(choice["message"].contains("muse_tool_calls")) << "the server did not run it";

  // Streamed: the same call in fragments (id and name first, then the arguments), then finish_reason tool_calls.
  json streamed = body;
  streamed["stream"] = true;
  r = post(streamed);
  ASSERT_TRUE(r);
  bool done = false;
  std::string name, arguments, id, finish;
  int fragments = 0;
  for (const auto& e : sse_events(r->body, &done)) {
    if (e["choices"].empty()) continue;
    const json& c = e["choices"][0];
    if (c["finish_reason"].is_string()) finish = c["finish_reason"];
    if (!c["delta"].contains("tool_calls")) continue;
    for (const auto& f : c["delta"]["tool_calls"]) {
      EXPECT_EQ(f["index"], 0);
      ++fragments;
      if (f.contains("id")) id = f["id"], name = f["function"]["name"];
      arguments += f["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_EQ(name, "calculator");
  EXPECT_EQ(arguments, call["function"]["arguments"]) << "the fragments add up to the plain reply's arguments";
  EXPECT_GT(fragments, 2) << "the arguments stream as they are written";
  EXPECT_EQ(id.rfind("call_", 0), 0u);

  // The client runs it and sends the result back: the model answers from it.
  json next = ask("What is 5821*3407?", 96);
  next["tools"] = body["tools"];
  next["messages"].push_back(choice["message"]);
  next["messages"].push_back({{"role", "tool"}, {"tool_call_id", call["id"]}, {"content", "19832147"}});
  r = post(next);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json answer = json::parse(r->body)["choices"][0];
  EXPECT_EQ(answer["finish_reason"], "stop") << r->body;
  EXPECT_EQ(answer["message"]["content"], "19832147") << r->body;
  EXPECT_FALSE(answer["message"].contains("tool_calls"));

  // tool_choice named / required: the reply opens with the call, its arguments by the function's schema.
  json weather = ask("What is the weather in Oslo?", 96);
  weather["tools"] = json::array({calculator, {{"type", "function"}, {"function", {{"name", "get_weather"},
      {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}, {"maxLength", 24}}}}},
                      {"required", {"city"}}}}}}}});
  for (const json& tool_choice : {json("required"), json{{"type", "function"}, {"function", {{"name", "get_weather"}}}}}) {
    weather["tool_choice"] = tool_choice;
    r = post(weather);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json c = json::parse(r->body)["choices"][0];
    EXPECT_EQ(c["finish_reason"], "tool_calls") << tool_choice.dump() << " " << r->body;
    ASSERT_EQ(c["message"]["tool_calls"].size(), 1u) << r->body;
    const json& f = c["message"]["tool_calls"][0]["function"];
    if (tool_choice.is_object()) EXPECT_EQ(f["name"], "get_weather");
    const json a = json::parse(f["arguments"].get<std::string>());
    if (f["name"] == "get_weather") {
      EXPECT_TRUE(a["city"].is_string()) << f.dump();
      EXPECT_LE(a["city"].get<std::string>().size(), 24u * 4);
    } else {
      EXPECT_TRUE(a["expression"].is_string()) << f.dump();
    }
  }
  // tool_choice none: no call to the client's functions; the built-in calculator answers instead.
  body["tool_choice"] = "none";
  r = post(body);
  ASSERT_TRUE(r);
  const json none = json::parse(r->body)["choices"][0];
  EXPECT_EQ(none["finish_reason"], "stop") << r->body;
  EXPECT_FALSE(none["message"].contains("tool_calls")) << r->body;
}

// Prefix reuse: a conversation sent again (a chat's history, a system prompt) is not prefilled again; usage
// and timings say how much came from the cache, and the answer is the same.
TEST_F(ServerTest, RepeatedPromptsComeFromThePrefixCache) {
  json body = ask("What is 4728+9150?", 96);
  const json system = {{"role", "system"}, {"content", "You are Muse. Think step by step, then answer briefly."}};
  body["messages"].insert(body["messages"].begin(), system);
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json first = json::parse(r->body);
  r = post(body);
  ASSERT_TRUE(r);
  const json second = json::parse(r->body);
  const int64_t prompt = second["usage"]["prompt_tokens"];
  const int64_t cached = second["usage"]["prompt_tokens_details"]["cached_tokens"];
  EXPECT_GT(cached, prompt / 2) << second["usage"].dump();
  EXPECT_LT(cached, prompt) << "the last token is always fed";
  EXPECT_EQ(second["timings"]["cache_n"], cached);
  EXPECT_EQ(second["choices"][0]["message"]["content"], first["choices"][0]["message"]["content"]);
  const auto metrics = client().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("muse_prompt_tokens_cached_total"), std::string::npos);
  EXPECT_NE(metrics->body.find("muse_prefix_cache_blocks"), std::string::npos);
}

// response_format: the answer is JSON by the schema (or any object), whatever the model would have written.
TEST_F(ServerTest, JsonAnswersFollowTheirSchema) {
  json body = ask("What is 347+589?", 200);
  body["response_format"] = json::parse(R"({"type": "json_schema", "json_schema": {"name": "sum", "strict": true,
      "schema": {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
                 "additionalProperties": false}}})");
  auto r = post(body);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json c = json::parse(r->body)["choices"][0];
  EXPECT_EQ(c["finish_reason"], "stop");
  const json answer = json::parse(c["message"]["content"].get<std::string>());
  ASSERT_TRUE(answer["answer"].is_number_integer()) << c.dump();
  EXPECT_EQ(answer.size(), 1u);
  // Which integer is the model's business (it was never trained on JSON answers: the default of 2026-12-03 writes
  // 226 here, 936 in plain text; docs/LOG.md, 2026-12-02); the constraint's is that it is one, alone, and final.
  EXPECT_FALSE(c["message"]["reasoning_content"].get<std::string>().empty()) << "the thinking stays free";
  body["response_format"] = {{"type", "json_object"}};
  body["stream"] = true;
  r = post(body);
  ASSERT_TRUE(r);
  bool done = false;
  std::string content;
  for (const auto& e : sse_events(r->body, &done))
    if (!e["choices"].empty()) content += e["choices"][0]["delta"].value("content", "");
  EXPECT_TRUE(done);
  EXPECT_TRUE(json::parse(content).is_object()) << content;
}

// "Answer now" reaches every agent of a Contemplating request: agents told to think at least 340 tokens close
// their thinking early and answer, and the synthesis still comes.
TEST_F(ServerTest, AnswerNowReachesEveryContemplatingAgent) {
  json body = ask("target 24 from 3 7 8 2", 360);
  body["stream"] = true;
  body["mode"] = "contemplating";
  body["muse_agents"] = 16;
  body["muse_synthesis"] = "vote";
  body["thinking_budget_tokens"] = {{"min", 340}};
  httplib::Request req = completion_request(body);
  std::string stream;
  std::thread told;
  int answer_now_status = 0;
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    stream.append(data, size);
    const size_t at = stream.find("\"id\":\"chatcmpl-");
    if (!told.joinable() && at != std::string::npos) {
      const size_t begin = at + 6, end = stream.find('"', begin);
      const std::string id = stream.substr(begin, end - begin);
      told = std::thread([&, id] {
        const auto r = client().Post("/v1/chat/completions/" + id + "/answer_now", "", "application/json");
        answer_now_status = r ? r->status : -1;
      });
    }
    return true;
  };
  auto c = client();
  ASSERT_TRUE(c.send(req));
  if (told.joinable()) told.join();
  EXPECT_EQ(answer_now_status, 200);
  bool done = false;
  json summary;
  std::string content;
  for (const auto& e : sse_events(stream, &done)) {
    if (e["choices"].empty()) continue;
    const json& d = e["choices"][0]["delta"];
    if (d.contains("muse_contemplation")) summary = d["muse_contemplation"];
    content += d.value("content", "");
  }
  EXPECT_TRUE(done);
  ASSERT_TRUE(summary.contains("agents")) << stream.substr(stream.size() > 2000 ? stream.size() - 2000 : 0);
  ASSERT_EQ(summary["agents"].size(), 16u);
  int cut = 0;
  for (const auto& a : summary["agents"]) cut += a["thinking_tokens"].get<int>() < 340;
  EXPECT_EQ(cut, 16) << "every agent stopped thinking before its minimum: " << summary.dump();
  EXPECT_FALSE(content.empty()) << "a synthesized answer came";
}

TEST_F(ServerTest, ClientGoneCancelsItsSequence) {
  // Eight long samples: far more tokens than the client waits for, so the stream is still running when it leaves.
  json body = ask("target 24 from 3 7 8 2", 300);
  body["stream"] = true;
  body["n"] = 8;
  body["temperature"] = 1.0;
  body["thinking_budget_tokens"] = 290;
  httplib::Request req = completion_request(body);
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 2; };
  const int64_t abandoned = server_->counters().streams_abandoned;
  auto c = client();
  c.send(req);  // the receiver hangs up after the second chunk
  EXPECT_GE(chunks, 2);
  // The sequences are cancelled: the engine goes idle and the stream counts as abandoned.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!server_->engine().idle() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(server_->engine().idle());
  while (server_->counters().streams_abandoned == abandoned && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server_->counters().streams_abandoned, abandoned + 1);
  expect_serves();
}

}  // namespace
}  // namespace muse::server

namespace muse::server {
namespace {

// A server of its own: CORS on for one origin, and a queue bounded at one waiting request, with a KV pool that
// holds one long request at a time (so a second one waits and a third is turned away).
TEST(ServerLimits, CorsForOneOriginAndABoundedQueue) {
  signal(SIGPIPE, SIG_IGN);
  ServerOptions options;
  options.port = 0;
  options.cors_origin = "http://app.example";
  options.max_queued = 1;
  options.kv_mem = int64_t{4} << 20;  // ~7.5 KiB of KV a token: one 370-token request fits, two do not
  Server server(load_model_dir(std::string(MUSE_SOURCE_DIR) + "/models/default", torch::kCPU), options);
  const int port = server.bind();
  std::thread loop([&] { server.listen(); });

  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  auto preflight = c.Options("/v1/chat/completions");
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "http://app.example");
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->get_header_value("Access-Control-Allow-Origin"), "http://app.example");

  const json long_request = {{"messages", json::array({json{{"role", "user"}, {"content", "47+85"}}})},
                             {"max_tokens", 360},
                             {"thinking_budget_tokens", {{"min", 340}}}};
  auto post = [&] {
    httplib::Client k("127.0.0.1", port);
    k.set_read_timeout(60, 0);
    return k.Post("/v1/chat/completions", long_request.dump(), "application/json");
  };
  std::thread first([&] { EXPECT_EQ(post()->status, 200); });
  // The first holds the pool; the second waits for it.
  for (int i = 0; i < 500 && server.engine().stats().running == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::thread second([&] { EXPECT_EQ(post()->status, 200); });
  for (int i = 0; i < 500 && server.engine().stats().queued == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(server.engine().stats().queued, 1) << "the second request should be waiting";
  auto third = post();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429) << third->body;
  EXPECT_EQ(third->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(third->body)["error"]["code"], "rate_limit_exceeded");
  first.join();
  second.join();
  EXPECT_EQ(post()->status, 200);  // the queue drained: served again
  server.stop();
  loop.join();
}

}  // namespace
}  // namespace muse::server

namespace muse::server {
namespace {
using nlohmann::json;

// An image bomb (a PNG whose header claims 60000 x 60000 pixels, a few bytes long) is refused from its header,
// before any pixel is decoded; a client that sends half a body and stalls is dropped after the read timeout and
// holds no worker meanwhile beyond it; the server answers normally throughout.
TEST_F(ServerTest, ImageBombsAndSlowBodiesAreRefusedAndTheServerKeepsServing) {
  std::string bomb = "\x89PNG\r\n\x1a\n";
  const auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char((v >> 16) & 255), char((v >> 8) & 255), char(v & 255)};
  };
  // A chunk with PNG's CRC-32 over its type and data: the file is well-formed, only its size is absurd.
  const auto chunk = [&](const std::string& type, const std::string& data) {
    uint32_t crc = 0xffffffffu;
    for (unsigned char ch : type + data) {
      crc ^= ch;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return be32(static_cast<uint32_t>(data.size())) + type + data + be32(~crc);
  };
  bomb += chunk("IHDR", be32(60000) + be32(60000) + std::string("\x08\x02\x00\x00\x00", 5));
  bomb += chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + chunk("IEND", "");
  const json request{{"messages", json::array({json{{"role", "user"},
                                                     {"content", json::array({json{{"type", "image_url"},
                                                                                   {"image_url",
                                                                                    {{"url", "data:image/png;base64," +
                                                                                                 base64_of(bomb)}}}}})}}})}};
  const json e = expect_error(post(request), 400);
  EXPECT_EQ(e["param"], "messages[0].content[0].image_url.url") << e.dump();
  EXPECT_NE(e.value("message", std::string()).find("60000"), std::string::npos) << e.dump();

  ServerOptions options;
  options.port = 0;
  options.read_timeout_s = 1;
  options.http_threads = 2;
  options.kv_mem = int64_t{16} << 20;
  Server slow(load_model_dir(std::string(MUSE_SOURCE_DIR) + "/models/default", torch::kCPU), options);
  const int port = slow.bind();
  std::thread listener([&] { slow.listen(); });
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 1000\r\n\r\n{\"messages\": [";
  ASSERT_EQ(::send(sock, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  const auto start = std::chrono::steady_clock::now();
  // Meanwhile a normal request is answered.
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  auto ok = c.Post("/v1/chat/completions", ask("1+1", 8).dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  // The stalled connection is closed by the server (recv sees the end, or a reset) within a few seconds.
  timeval wait{10, 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char buf[512];
  ssize_t got = 0;
  while ((got = ::recv(sock, buf, sizeof buf, 0)) > 0) {
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 8.0) << "the stalled client was not dropped";
  ::close(sock);
  slow.stop();
  listener.join();
}

}  // namespace
}  // namespace muse::server

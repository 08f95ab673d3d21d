#include "server/stream.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "constrain/reply_constraint.h"
#include "model/config.h"
#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "server/active_requests.h"
#include "server/server.h"
#include "util/log.h"

namespace muse::server {
using nlohmann::json;

namespace {

// Length of `text` without a trailing, still incomplete UTF-8 sequence (its last bytes arrive with the next
// token): a client never gets half a character.
size_t complete_utf8_length(const std::string& text) {
  const size_t n = text.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead
    const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

std::string new_suffix(const std::string& text, size_t& sent) {
  const size_t ready = complete_utf8_length(text);
  if (ready <= sent) return {};
  std::string out = text.substr(sent, ready - sent);
  sent = ready;
  return out;
}

std::vector<TokenLogprob> token_logprobs(const Tokenizer& tok, const SequenceResult& r) {
  std::vector<TokenLogprob> out;
  for (size_t k = 0; k < r.tokens.size() && k < r.logprobs.size(); ++k) {
    TokenLogprob t;
    t.token = tok.decode({r.tokens[k]}, /*show_specials=*/true);
    t.logprob = r.logprobs[k];
    if (k < r.top_logprobs.size())
      for (const auto& [id, lp] : r.top_logprobs[k]) t.top.emplace_back(tok.decode({id}, true), lp);
    out.push_back(std::move(t));
  }
  return out;
}

void count_usage(Usage& usage, const SequenceResult& r) {
  usage.completion_tokens += static_cast<int64_t>(r.tokens.size());
  usage.reasoning_tokens += r.thinking_tokens;
  usage.cached_tokens = std::max(usage.cached_tokens, r.cached_tokens);  // the n choices share one prompt
}

}  // namespace

Delta ReplyDelta::add(int token) {
  tokens_.push_back(token);
  const ParsedReply reply = parse_reply(tok_, tokens_);
  Delta delta;
  delta.reasoning = new_suffix(reply.thinking, reasoning_sent_);
  if (reply.finished_thinking) delta.content = new_suffix(reply.answer, content_sent_);
  return delta;
}

ChatTurn prepare_chat(const std::string& body, const LoadedModel& model, const ServerOptions& options) {
  const ModelConfig& config = model.config;
  const Tokenizer& tok = model.tokenizer;
  RequestLimits limits = options.limits;
  limits.images = limits.images && config.sees_images();
  limits.max_tokens = static_cast<int>(std::min<int64_t>(limits.max_tokens, config.max_seq_len));

  ChatTurn turn;
  turn.request = parse_chat_request(body, limits);
  const ChatRequest& r = turn.request;
  if (!r.model.empty() && r.model != options.model_name)
    throw ApiError(404, "invalid_request_error", "model", "model_not_found",
                   "the model '" + r.model + "' does not exist; this server serves '" + options.model_name + "'");

  RenderOptions render;
  render.vision = vision_params(config);
  render.keep_thinking = false;  // earlier reasoning is dropped from the context, as `muse chat` does
  const ClientTools& client = r.client_tools;
  std::vector<Message> messages = r.messages;
  if (!client.functions.empty())  // the client's functions, declared before the conversation
    messages.insert(messages.begin(), Message{Role::System, {text_segment(functions_prompt(client.functions))}, ""});
  turn.prompt = render_conversation(tok, messages, /*generation_prompt=*/true, render);
  const int64_t context = config.max_seq_len;
  const int64_t prompt_tokens = static_cast<int64_t>(turn.prompt.size());
  if (prompt_tokens >= context)
    throw ApiError(400, "invalid_request_error", "messages", "context_length_exceeded",
                   "this model's context is " + std::to_string(context) + " tokens; the messages take " +
                       std::to_string(prompt_tokens));
  const int64_t room = context - prompt_tokens;
  if (r.max_tokens && *r.max_tokens > room)
    throw ApiError(400, "invalid_request_error", "max_tokens", "context_length_exceeded",
                   "this model's context is " + std::to_string(context) + " tokens; the messages take " +
                       std::to_string(prompt_tokens) + ", leaving " + std::to_string(room) +
                       " for the completion, but max_tokens is " + std::to_string(*r.max_tokens));

  SamplingParams& s = turn.params.sampling;
  s.temperature = r.temperature.value_or(r.n > 1 ? 1.0 : 0.0);
  s.top_p = r.top_p;
  s.seed = r.seed ? *r.seed : std::random_device{}();
  s.max_tokens = static_cast<int>(r.max_tokens ? *r.max_tokens : room);
  s.stop_tokens = {tok.special(Special::EndOfTurn), tok.eos()};
  s.think_end_token = tok.special(Special::ThinkEnd);
  s.max_thinking_tokens = thinking_budget(r);
  s.min_thinking_tokens = r.min_thinking_tokens;
  turn.params.stop_strings = r.stop;
  turn.params.logprobs = r.logprobs;
  turn.params.top_logprobs = r.top_logprobs;
  std::vector<Segment> attachments;
  for (const auto& message : r.messages)
    for (const auto& segment : message.content)
      if (segment.kind != SegmentKind::Text) attachments.push_back(segment);
  turn.tool_context = tool_context_for(attachments, render.vision);
  turn.attachments = std::move(attachments);
  turn.vision = render.vision;
  turn.tool_use.enabled = r.builtin_tools;
  if (client.calls_allowed())
    for (const auto& f : client.functions) turn.tool_use.client_functions.push_back(f.name);
  configure_tool_use(turn.params, tok, builtin_tools(), turn.tool_use);
  if (client.any()) {
    // JSON answers and the client's call arguments by their schemas; a required or named call opens the reply.
    auto rules = std::make_shared<constrain::ReplyRules>();
    rules->answer = client.answer_schema;
    if (client.calls_allowed()) {
      for (const auto& f : client.functions) rules->functions.push_back({f.name, f.schema});
      rules->call = client.choice == ToolChoice::Required ? constrain::CallChoice::Required
                    : client.choice == ToolChoice::Named  ? constrain::CallChoice::Named
                                                          : constrain::CallChoice::Free;
      rules->named = client.named;
    }
    turn.params.constraint = std::make_shared<constrain::ReplyConstraint>(
        constrain::TokenBytes::of(tok), constrain::ReplyTokens::of(tok), std::move(rules));
  }
  return turn;
}

std::vector<ToolRunner> ChatTurn::runners(const Tokenizer& tok) const {
  std::vector<ToolRunner> out;
  for (int i = 0; i < request.n; ++i) out.emplace_back(tok, builtin_tools(), tool_context, tool_use);
  return out;
}

std::string without_stop(std::string answer, const std::string& stop) {
  if (!stop.empty() && answer.size() >= stop.size() &&
      answer.compare(answer.size() - stop.size(), stop.size(), stop) == 0)
    answer.resize(answer.size() - stop.size());
  return answer;
}

json tool_calls_with_results_json(const std::vector<ToolCallRecord>& calls) {
  json out = json::array();
  for (size_t k = 0; k < calls.size(); ++k) {
    const ServerToolCall call = server_tool_call(calls[k], static_cast<int>(k));
    json entry = server_tool_call_json(call);
    entry["result"] = server_tool_result_json(call);
    entry["result"].erase("tool_call_id");
    out.push_back(std::move(entry));
  }
  return out;
}

std::string client_arguments(const ToolCallRecord& record) {
  if (record.body.compare(0, record.name.size() + 1, record.name + " ") == 0) return record.body.substr(record.name.size() + 1);
  return record.arguments.is_null() ? "{}" : record.arguments.dump();
}

ServerToolCall server_tool_call(const ToolCallRecord& record, int index) {
  ServerToolCall c;
  c.index = index;
  c.name = record.name;
  c.arguments = record.arguments.is_null() ? record.body : record.arguments.dump();
  c.is_error = !record.ok();
  if (c.is_error) {
    c.result = std::string("error: ") + tool_error_name(record.error) + ": " + record.result_text;
  } else if (record.image) {
    c.result = "(a " + std::to_string(record.image->width) + "x" + std::to_string(record.image->height) + " view)";
  } else {
    c.result = record.result_text;
  }
  if (!c.is_error && record.details.is_object() && record.details.contains("box")) {
    c.box = record.details["box"];
    c.image = record.details.value("image", 0);
    c.crop = record.details.value("crop", nlohmann::json());
  }
  return c;
}

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Timings request_timings(const Usage& usage, Clock::time_point started, Clock::time_point first_token,
                        Clock::time_point last_event) {
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  Timings t;
  t.prompt_n = usage.prompt_tokens;
  t.cache_n = usage.cached_tokens;
  t.predicted_n = usage.completion_tokens;
  if (first_token != Clock::time_point{}) {
    t.prompt_ms = ms(first_token - started);
    t.predicted_ms = ms(last_event - first_token);
  }
  return t;
}

void count_tokens(ServerCounters* counters, const Usage& usage) {
  if (!counters) return;
  counters->prompt_tokens += usage.prompt_tokens;
  counters->completion_tokens += usage.completion_tokens;
  counters->reasoning_tokens += usage.reasoning_tokens;
  counters->cached_prompt_tokens += usage.cached_tokens;
}


json complete_chat(Engine& engine, const Tokenizer& tok, const ChatTurn& turn, const ResponseMeta& meta,
                   ActiveRequests* active, ServerCounters* counters) {
  // The choices' events come here (this HTTP worker's thread), where their tool calls run, never on the engine's.
  auto queue = std::make_shared<EventQueue>();
  RequestParams params = turn.params;
  params.events = queue;
  auto runners = turn.runners(tok);
  const auto ids = engine.add_samples(Prompt::of(turn.prompt), params, turn.request.n);
  const auto registered = active ? active->add(meta.id, ids) : nullptr;
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first_token{}, last_event = started;
  std::vector<SequenceResult> results;  // every result taken, even if one failed
  for (auto& run : drive_with_tools(engine, ids, queue, runners, [&](const TokenEvent& e) {
         last_event = std::chrono::steady_clock::now();
         if (e.token >= 0 && first_token == std::chrono::steady_clock::time_point{}) first_token = last_event;
       }))
    results.push_back(std::move(run.sequence));
  Usage usage;
  usage.prompt_tokens = static_cast<int64_t>(turn.prompt.size());
  std::vector<Choice> choices;
  for (size_t i = 0; i < results.size(); ++i) {
    const SequenceResult& r = results[i];
    if (r.finish_reason == FinishReason::Error)
      throw ApiError(500, "server_error", "", "", "generation failed: " + r.error);
    const ParsedReply reply = parse_reply(tok, r.tokens);
    Choice c;
    c.index = static_cast<int>(i);
    c.reasoning = reply.thinking;
    c.content = without_stop(reply.answer, r.stop_string);
    c.finish_reason = r.finish_reason;
    for (const auto& call : runners[i].calls()) {
      if (!call.client) {
        c.tool_calls.push_back(server_tool_call(call, static_cast<int>(c.tool_calls.size())));
        continue;
      }
      const int k = static_cast<int>(c.client_calls.size());
      c.client_calls.push_back({k, client_call_id(meta.id, static_cast<int>(i), k), call.name, client_arguments(call)});
    }
    if (turn.request.logprobs) c.logprobs = token_logprobs(tok, r);
    count_usage(usage, r);
    choices.push_back(std::move(c));
  }
  count_tokens(counters, usage);
  const Timings timings = request_timings(usage, started, first_token, last_event);
  return completion_json(meta, choices, usage, &timings);
}

namespace {

// One SSE response's state, shared by the content provider and the releaser (both on the HTTP worker thread).
struct StreamState {
  Engine* engine = nullptr;
  const Tokenizer* tok = nullptr;
  ResponseMeta meta;
  bool include_usage = false;
  bool logprobs = false;  // each token's chunk carries its logprob (and the top alternatives)
  std::shared_ptr<EventQueue> queue;
  std::vector<SeqId> ids;
  std::vector<ReplyDelta> replies;
  std::vector<ToolRunner> runners;
  std::vector<size_t> calls_sent;  // runner records seen (built-in calls sent, client calls finished)
  // The client call being streamed, per choice: its fragments so far.
  struct ClientStream {
    int count = 0;             // client calls finished
    bool header_sent = false;  // id and name of the open one
    size_t args_sent = 0;      // bytes of its arguments
  };
  std::vector<ClientStream> client;
  std::vector<bool> role_sent, finished;
  int open = 0;  // choices not finished yet
  Usage usage;
  bool done = false;  // [DONE] written
  std::shared_ptr<void> registered;  // in ActiveRequests while the stream lives
  ServerCounters* counters = nullptr;
  std::chrono::steady_clock::time_point started;                 // when the choices were added
  std::vector<std::chrono::steady_clock::time_point> last_token;  // per choice; epoch = none yet
  std::chrono::steady_clock::time_point first_token{}, last_event{};  // over all choices (timings)

  int index_of(SeqId id) const {
    for (size_t i = 0; i < ids.size(); ++i)
      if (ids[i] == id) return static_cast<int>(i);
    return -1;
  }
  // The client went away (or writing failed): cancel what still runs and take its results so none linger.
  void abandon() {
    for (size_t i = 0; i < ids.size(); ++i)
      if (!finished[i]) engine->cancel(ids[i]);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (finished[i]) continue;
      try {
        engine->wait(ids[i]);
      } catch (const std::exception&) {
      }
      finished[i] = true;
    }
    open = 0;
  }
};

struct ClientGone {};

// Writes every event of the turn as it arrives; returns false when the client is gone (the releaser cancels).
bool write_stream(StreamState& st, httplib::DataSink& sink) {
  auto write = [&](const std::string& text) {
    if (!sink.write(text.data(), text.size())) throw ClientGone{};
  };
  try {
    while (st.open > 0) {
      auto event = st.queue->pop(std::chrono::milliseconds(200));
      if (!event) {
        if (sink.is_writable && !sink.is_writable()) throw ClientGone{};
        continue;
      }
      const int i = st.index_of(event->id);
      if (i < 0 || st.finished[static_cast<size_t>(i)]) continue;
      const auto ui = static_cast<size_t>(i);
      Delta delta;
      auto& runner = st.runners[ui];
      auto& client = st.client[ui];
      answer_call(*st.engine, runner, *event);
      // A client call's fragments: its id and name once the name is written, then its arguments as they grow.
      auto fragment = [&](const std::string& name, const std::string& args) {
        ClientToolCall f;
        f.index = client.count;
        if (!client.header_sent) {
          f.id = client_call_id(st.meta.id, i, client.count);
          f.name = name;
          client.header_sent = true;
        }
        if (args.size() > client.args_sent) f.arguments = args.substr(client.args_sent);
        client.args_sent = std::max(client.args_sent, args.size());
        if (!f.id.empty() || !f.arguments.empty()) delta.client_calls.push_back(std::move(f));
      };
      for (; st.calls_sent[ui] < runner.calls().size(); ++st.calls_sent[ui]) {
        const ToolCallRecord& call = runner.calls()[st.calls_sent[ui]];
        if (!call.client) {
          delta.tool_calls.push_back(server_tool_call(call, static_cast<int>(st.calls_sent[ui] - client.count)));
          continue;
        }
        fragment(call.name, client_arguments(call));
        ++client.count;
        client.header_sent = false;
        client.args_sent = 0;
      }
      if (const std::string open = runner.open_call_text(); !open.empty()) {
        const size_t space = open.find(' ');
        const auto& names = runner.params().client_functions;
        if (space != std::string::npos &&
            std::find(names.begin(), names.end(), open.substr(0, space)) != names.end())
          fragment(open.substr(0, space), open.substr(0, complete_utf8_length(open)).substr(space + 1));
      }
      if (event->token >= 0) {
        auto calls = std::move(delta.tool_calls);
        auto client_calls = std::move(delta.client_calls);
        delta = st.replies[ui].add(event->token);
        delta.tool_calls = std::move(calls);
        delta.client_calls = std::move(client_calls);
        if (st.logprobs) {
          TokenLogprob t;
          t.token = st.tok->decode({event->token}, /*show_specials=*/true);
          t.logprob = event->logprob;
          for (const auto& [id, lp] : event->top_logprobs) t.top.emplace_back(st.tok->decode({id}, true), lp);
          delta.logprobs.push_back(std::move(t));
        }
        const auto now = std::chrono::steady_clock::now();
        const bool first = st.last_token[ui] == std::chrono::steady_clock::time_point{};
        const auto since = now - (first ? st.started : st.last_token[ui]);
        (first ? st.counters->time_to_first_token : st.counters->time_per_output_token)
            .observe(std::chrono::duration<double>(since).count());
        st.last_token[ui] = now;
      }
      if (!st.role_sent[ui]) delta.role = st.role_sent[ui] = true;
      if (delta.role || !delta.reasoning.empty() || !delta.content.empty() || !delta.tool_calls.empty() ||
          !delta.logprobs.empty() || !delta.client_calls.empty())
        write(sse_data(chunk_json(st.meta, i, delta, FinishReason::None)));
      st.last_event = std::chrono::steady_clock::now();
      if (event->token >= 0 && st.first_token == std::chrono::steady_clock::time_point{}) st.first_token = st.last_event;
      if (!event->finished) continue;
      const SequenceResult result = st.engine->wait(event->id);
      st.finished[ui] = true;
      --st.open;
      count_usage(st.usage, result);
      if (result.finish_reason == FinishReason::Error)
        write(sse_data(error_json(ApiError(500, "server_error", "", "", "generation failed: " + result.error))));
      json finish = chunk_json(st.meta, i, Delta{}, result.finish_reason, /*called=*/client.count > 0);
      if (st.open == 0 && !st.include_usage)  // the last chunk carries the request's timings
        finish["timings"] = timings_json(request_timings(st.usage, st.started, st.first_token, st.last_event));
      write(sse_data(finish));
    }
    count_tokens(st.counters, st.usage);
    if (st.include_usage) {
      const Timings timings = request_timings(st.usage, st.started, st.first_token, st.last_event);
      write(sse_data(usage_chunk_json(st.meta, st.usage, &timings)));
    }
    write(sse_done());
    st.done = true;
    sink.done();
    return true;
  } catch (const ClientGone&) {
    log_info("serve", "%s: the client went away; cancelling", st.meta.id.c_str());
    return false;
  } catch (const std::exception& e) {
    log_error("serve", "%s: stream failed: %s", st.meta.id.c_str(), e.what());
    return false;
  }
}

}  // namespace

void stream_chat(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                 httplib::Response& res, ServerCounters& counters, ActiveRequests* active) {
  auto st = std::make_shared<StreamState>();
  st->engine = &engine;
  st->tok = &tok;
  st->meta = meta;
  st->include_usage = turn.request.include_usage;
  st->logprobs = turn.request.logprobs;
  st->queue = std::make_shared<EventQueue>();
  turn.params.events = st->queue;  // forks share the parent's observers: one queue, events keyed by id
  st->counters = &counters;
  st->started = std::chrono::steady_clock::now();
  st->ids = engine.add_samples(Prompt::of(turn.prompt), turn.params, turn.request.n);
  if (active) st->registered = active->add(meta.id, st->ids);
  st->last_token.assign(st->ids.size(), {});
  st->usage.prompt_tokens = static_cast<int64_t>(turn.prompt.size());
  for (size_t i = 0; i < st->ids.size(); ++i) st->replies.emplace_back(tok);
  st->runners = turn.runners(tok);
  st->calls_sent.assign(st->ids.size(), 0);
  st->client.assign(st->ids.size(), {});
  st->role_sent.assign(st->ids.size(), false);
  st->finished.assign(st->ids.size(), false);
  st->open = static_cast<int>(st->ids.size());
  serve_sse(res, counters,
            {[st](httplib::DataSink& sink) { return write_stream(*st, sink); }, [st] { return st->done; },
             [st] { st->abandon(); }, [st] { st->registered.reset(); }});
}

void serve_sse(httplib::Response& res, ServerCounters& counters, SseHandlers handlers) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // proxies must not hold the stream back
  auto h = std::make_shared<SseHandlers>(std::move(handlers));
  res.set_chunked_content_provider(
      "text/event-stream", [h](size_t, httplib::DataSink& sink) { return h->write(sink); },
      [h, &counters](bool) {
        h->release();
        if (h->written()) {
          ++counters.completions;
          return;
        }
        ++counters.streams_abandoned;
        h->abandon();
      });
}

}  // namespace muse::server

#include "server/contemplation.h"

#include <httplib.h>

#include <chrono>
#include <cmath>

#include "server/active_requests.h"
#include "tools/registry.h"
#include "util/log.h"

namespace muse::server {
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

json number_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

// The turn's request as every agent's params, and the contemplation's own.
Contemplator make_contemplator(const Tokenizer& tok, const ChatTurn& turn,
                               Contemplator::AgentEventCallback on_agent_event = {}) {
  ContemplateParams params;
  params.agents = turn.request.agents;
  params.synthesis = turn.request.synthesis;
  if (turn.request.temperature && *turn.request.temperature > 0) params.temperature = *turn.request.temperature;
  RequestParams request = turn.params;
  request.pause_tokens.clear();  // each agent's own runner configures its tool calls
  request.banned_tokens.clear();
  request.logprobs = false;
  request.top_logprobs = 0;
  const ToolContext context = turn.tool_context;
  const ToolUseParams use = turn.tool_use;
  return Contemplator(
      tok, params, request, [&tok, context, use](int) { return ToolRunner(tok, builtin_tools(), context, use); },
      std::move(on_agent_event));
}

Usage usage_of(const Contemplation& c) {
  Usage usage;
  usage.prompt_tokens = c.prompt_tokens;
  usage.cached_tokens = c.cached_tokens;
  usage.completion_tokens = c.tokens;
  for (const auto& a : c.agents) usage.reasoning_tokens += a.thinking_tokens;
  return usage;
}

Choice synthesized_choice(const Contemplation& c) {
  Choice choice;
  choice.content = c.answer;
  choice.reasoning = c.thinking;
  const AgentOutcome* winner = c.winning_agent();
  choice.finish_reason = winner ? winner->finish_reason : FinishReason::Length;
  return choice;
}

}  // namespace

json agent_json(const AgentOutcome& a, bool with_trace) {
  json out{{"index", a.index},
           {"temperature", a.temperature},
           {"content", a.answer},
           {"confidence", number_or_null(a.confidence)},
           {"tokens", a.tokens},
           {"thinking_tokens", a.thinking_tokens},
           {"stop", agent_stop_name(a.stop)},
           {"finish_reason", a.finish_reason == FinishReason::None ? json(nullptr)
                                                                   : json(openai_finish_reason(a.finish_reason))},
           {"counted", a.counted},
           {"weight", a.weight}};
  if (with_trace) {
    out["reasoning_content"] = a.thinking;
    out["muse_tool_calls"] = tool_calls_with_results_json(a.calls);
  }
  return out;
}

json contemplation_json(const Contemplation& c, bool with_traces) {
  json agents = json::array();
  for (const auto& a : c.agents) agents.push_back(agent_json(a, with_traces));
  const AgentOutcome* winner = c.winning_agent();
  return {{"synthesis", synthesis_name(c.synthesis)},
          {"agents_requested", c.agents_requested},
          {"winner", winner ? json(winner->index) : json(nullptr)},
          {"support", c.support},
          {"winner_votes", c.winner_votes},
          {"threshold", number_or_null(c.threshold)},
          {"consensus_stop", c.consensus_stop},
          {"tokens", c.tokens},
          {"agents", std::move(agents)}};
}

json complete_contemplation(Engine& engine, const Tokenizer& tok, const ChatTurn& turn, const ResponseMeta& meta,
                            ServerCounters* counters, ActiveRequests* active) {
  const auto started = Clock::now();
  Clock::time_point first{}, last = started;
  Contemplator contemplator = make_contemplator(tok, turn, [&](int, const TokenEvent& e, const AgentOutcome*) {
    last = Clock::now();
    if (e.token >= 0 && first == Clock::time_point{}) first = last;
  });
  auto events = std::make_shared<EventQueue>();
  contemplator.start(engine, Prompt::of(turn.prompt), events);
  const auto registered = active ? active->add(meta.id, contemplator.sequence_ids()) : nullptr;
  while (!contemplator.done()) {
    auto event = events->pop(std::chrono::milliseconds(100));
    for (; event; event = events->try_pop())
      if (contemplator.owns(event->id)) contemplator.on_event(engine, *event);
  }
  const Contemplation c = contemplator.result(engine);
  if (!c.error.empty()) throw ApiError(500, "server_error", "", "", "contemplating failed: " + c.error);
  const Usage usage = usage_of(c);
  count_tokens(counters, usage);
  const Timings timings = request_timings(usage, started, first, last);
  json out = completion_json(meta, {synthesized_choice(c)}, usage, &timings);
  out["choices"][0]["message"]["muse_contemplation"] = contemplation_json(c, /*with_traces=*/true);
  return out;
}

namespace {

struct ClientGone {};

// One SSE response's state, shared by the content provider and the releaser (both on the HTTP worker thread).
struct ContemplationStream {
  Engine* engine = nullptr;
  const Tokenizer* tok = nullptr;
  ResponseMeta meta;
  ChatTurn turn;
  std::shared_ptr<EventQueue> queue = std::make_shared<EventQueue>();
  std::unique_ptr<Contemplator> contemplator;
  std::shared_ptr<void> registered;    // in ActiveRequests while the stream lives
  std::vector<ReplyDelta> replies;     // per agent
  std::vector<size_t> calls_sent;      // per agent
  httplib::DataSink* sink = nullptr;   // while write_stream runs
  bool done = false;
  ServerCounters* counters = nullptr;
  Clock::time_point started, first{}, last{};

  void write(const std::string& text) {
    if (!sink->write(text.data(), text.size())) throw ClientGone{};
  }
  json chunk(const json& delta_fields) const {
    json c = chunk_json(meta, 0, Delta{}, FinishReason::None);
    for (const auto& [key, value] : delta_fields.items()) c["choices"][0]["delta"][key] = value;
    return c;
  }
  // Every event of agent `i`: its new thinking/answer text and tool calls, and its summary when it ends.
  void on_agent_event(int i, const TokenEvent& event, const AgentOutcome* finished) {
    const auto ui = static_cast<size_t>(i);
    while (replies.size() <= ui) {
      replies.emplace_back(*tok);
      calls_sent.push_back(0);
    }
    last = Clock::now();
    json agent{{"index", i}};
    if (event.token >= 0) {
      if (first == Clock::time_point{}) first = last;
      const Delta delta = replies[ui].add(event.token);
      if (!delta.reasoning.empty()) agent["reasoning_content"] = delta.reasoning;
      if (!delta.content.empty()) agent["content"] = delta.content;
    }
    // Tool calls this agent made since its last chunk, with their results.
    const auto& made = contemplator->agent_calls(i);
    json calls = json::array(), results = json::array();
    for (; calls_sent[ui] < made.size(); ++calls_sent[ui]) {
      const ServerToolCall call = server_tool_call(made[calls_sent[ui]], static_cast<int>(calls_sent[ui]));
      calls.push_back(server_tool_call_json(call));
      results.push_back(server_tool_result_json(call));
    }
    if (!calls.empty()) {
      agent["muse_tool_calls"] = std::move(calls);
      agent["muse_tool_results"] = std::move(results);
    }
    if (finished) {
      agent["done"] = true;
      agent["summary"] = agent_json(*finished, /*with_trace=*/false);
    }
    if (agent.size() > 1) write(sse_data(chunk({{"muse_agent", agent}})));
  }
};

bool write_contemplation(ContemplationStream& st, httplib::DataSink& sink) {
  st.sink = &sink;
  try {
    st.write(sse_data(st.chunk({{"role", "assistant"}})));
    while (!st.contemplator->done()) {
      auto event = st.queue->pop(std::chrono::milliseconds(200));
      if (!event) {
        if (sink.is_writable && !sink.is_writable()) throw ClientGone{};
        continue;
      }
      if (st.contemplator->owns(event->id)) st.contemplator->on_event(*st.engine, *event);
    }
    const Contemplation c = st.contemplator->result(*st.engine);
    if (!c.error.empty()) {
      st.write(sse_data(error_json(ApiError(500, "server_error", "", "", "contemplating failed: " + c.error))));
    } else {
      Delta answer;
      answer.reasoning = c.thinking;
      answer.content = c.answer;
      json chunk = chunk_json(st.meta, 0, answer, FinishReason::None);
      chunk["choices"][0]["delta"]["muse_contemplation"] = contemplation_json(c, /*with_traces=*/false);
      st.write(sse_data(chunk));
    }
    const Usage usage = usage_of(c);
    count_tokens(st.counters, usage);
    const Timings timings = request_timings(usage, st.started, st.first, st.last);
    json finish = chunk_json(st.meta, 0, Delta{}, synthesized_choice(c).finish_reason);
    if (!st.turn.request.include_usage) finish["timings"] = timings_json(timings);
    st.write(sse_data(finish));
    if (st.turn.request.include_usage) st.write(sse_data(usage_chunk_json(st.meta, usage, &timings)));
    st.write(sse_done());
    st.done = true;
    sink.done();
    st.sink = nullptr;
    return true;
  } catch (const ClientGone&) {
    log_info("serve", "%s: the client went away; cancelling its agents", st.meta.id.c_str());
  } catch (const std::exception& e) {
    log_error("serve", "%s: contemplation stream failed: %s", st.meta.id.c_str(), e.what());
  }
  st.sink = nullptr;
  return false;
}

}  // namespace

void stream_contemplation(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                          httplib::Response& res, ServerCounters& counters, ActiveRequests* active) {
  auto st = std::make_shared<ContemplationStream>();
  st->engine = &engine;
  st->tok = &tok;
  st->meta = meta;
  st->turn = std::move(turn);
  st->counters = &counters;
  st->started = Clock::now();
  ContemplationStream* raw = st.get();
  st->contemplator = std::make_unique<Contemplator>(make_contemplator(
      tok, st->turn, [raw](int i, const TokenEvent& e, const AgentOutcome* done) { raw->on_agent_event(i, e, done); }));
  // Added now, so that a prompt the engine refuses is still an HTTP error.
  st->contemplator->start(engine, Prompt::of(st->turn.prompt), st->queue);
  if (active) st->registered = active->add(meta.id, st->contemplator->sequence_ids());
  serve_sse(res, counters,
            {[st](httplib::DataSink& sink) { return write_contemplation(*st, sink); }, [st] { return st->done; },
             [st] { st->contemplator->abandon(*st->engine); }, [st] { st->registered.reset(); }});
}

}  // namespace muse::server

#include "server/sub_agents.h"

#include <httplib.h>

#include <chrono>
#include <map>

#include "server/active_requests.h"
#include "tokenizer/chat_format.h"
#include "tools/registry.h"
#include "util/error.h"
#include "util/log.h"

namespace muse::server {
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

json spawn_json(const SpawnRecord& s) {
  const json tasks = s.arguments.is_object() && s.arguments.contains("tasks") ? s.arguments["tasks"] : s.arguments;
  return {{"tasks", tasks},
          {"children", s.children},
          {"results", s.results},
          {"error", s.error == ToolError::None ? json(nullptr) : json(tool_error_name(s.error))}};
}

// The root's request as the tree runs it: each agent's runner configures its own tool calls.
RequestParams root_params(const ChatTurn& turn) {
  RequestParams params = turn.params;
  params.pause_tokens.clear();
  params.banned_tokens.clear();
  return params;
}

AgentTree make_tree(Engine& engine, const Tokenizer& tok, const ChatTurn& turn) {
  return AgentTree(engine, tok, builtin_tools(), turn.tool_use, turn.request.spawn_limits, turn.vision);
}

Usage usage_of(const AgentTreeRun& run, const ChatTurn& turn) {
  Usage usage;
  usage.prompt_tokens = static_cast<int64_t>(turn.prompt.size());
  usage.completion_tokens = run.tokens;
  for (const auto& a : run.agents) usage.reasoning_tokens += a.sequence.thinking_tokens;
  if (!run.agents.empty()) usage.cached_tokens = run.agents[0].sequence.cached_tokens;
  return usage;
}

// Registers the tree's agents under the response id as they start (the root first), for answer-now.
void register_agents(AgentTree& tree, ActiveRequests* active, const std::string& id, std::shared_ptr<void>& handle) {
  if (!active) return;
  tree.on_agent_start = [active, id, &handle](const AgentNode& agent, SeqId seq) {
    if (agent.index == 0) handle = active->add(id, {seq});
    else active->extend(id, seq);
  };
}

}  // namespace

json agent_node_json(const AgentNode& a, bool with_trace) {
  json spawns = json::array();
  for (const auto& s : a.spawns) spawns.push_back(spawn_json(s));
  json out{{"index", a.index},
           {"parent", a.parent < 0 ? json(nullptr) : json(a.parent)},
           {"depth", a.depth},
           {"task", a.task},
           {"content", a.answer},
           {"tokens", a.tokens},
           {"thinking_tokens", a.sequence.thinking_tokens},
           {"finish_reason", a.finish_reason == FinishReason::None ? json(nullptr)
                                                                   : json(openai_finish_reason(a.finish_reason))},
           {"started_s", a.started_s},
           {"seconds", a.finished_s - a.started_s},
           {"spawns", std::move(spawns)}};
  if (with_trace) {
    out["reasoning_content"] = a.thinking;
    out["muse_tool_calls"] = tool_calls_with_results_json(a.calls);
  }
  return out;
}

json agent_tree_json(const AgentTreeRun& run, bool with_traces) {
  json agents = json::array();
  for (const auto& a : run.agents) agents.push_back(agent_node_json(a, with_traces));
  return {{"agents", std::move(agents)},
          {"tokens", run.tokens},
          {"seconds", run.seconds},
          {"timed_out", run.timed_out},
          {"refused_spawns", run.refused_spawns}};
}

json complete_agent_tree(Engine& engine, const Tokenizer& tok, const ChatTurn& turn, const ResponseMeta& meta,
                         ServerCounters* counters, ActiveRequests* active) {
  const auto started = Clock::now();
  Clock::time_point first{}, last = started;
  AgentTree tree = make_tree(engine, tok, turn);
  std::shared_ptr<void> registered;
  register_agents(tree, active, meta.id, registered);
  AgentTreeRun run;
  try {
    run = tree.run(turn.attachments, Prompt::of(turn.prompt), root_params(turn), [&](int, const TokenEvent& e) {
      last = Clock::now();
      if (e.token >= 0 && first == Clock::time_point{}) first = last;
    });
  } catch (const MuseError& e) {
    throw ApiError(500, "server_error", "", "", std::string("sub-agents failed: ") + e.what());
  }
  registered.reset();
  const AgentNode& root = run.agents.at(0);
  if (root.finish_reason == FinishReason::Error)
    throw ApiError(500, "server_error", "", "", "generation failed: " + root.sequence.error);
  Choice choice;
  const ParsedReply reply = parse_reply(tok, root.sequence.tokens);
  choice.reasoning = reply.thinking;
  choice.content = without_stop(reply.answer, root.sequence.stop_string);
  choice.finish_reason = root.finish_reason;
  for (const auto& call : root.calls) choice.tool_calls.push_back(server_tool_call(call, static_cast<int>(choice.tool_calls.size())));
  const Usage usage = usage_of(run, turn);
  count_tokens(counters, usage);
  const Timings timings = request_timings(usage, started, first, last);
  json out = completion_json(meta, {choice}, usage, &timings);
  out["choices"][0]["message"]["muse_agents"] = agent_tree_json(run, /*with_traces=*/true);
  return out;
}

namespace {

struct ClientGone {};

// One SSE response's state, shared by the content provider and the releaser (both on the HTTP worker thread).
// The tree runs inside the content provider: its observers write the chunks as the agents go.
struct TreeStream {
  Engine* engine = nullptr;
  const Tokenizer* tok = nullptr;
  ResponseMeta meta;
  ChatTurn turn;
  ActiveRequests* active = nullptr;
  std::shared_ptr<void> registered;
  std::map<int, ReplyDelta> replies;  // per agent, the root's included
  int root_builtin_calls = 0;         // the root's built-in calls streamed so far (their index)
  std::map<int, int> child_calls;     // the same for each sub-agent
  httplib::DataSink* sink = nullptr;
  bool done = false;
  ServerCounters* counters = nullptr;
  Clock::time_point started, first{}, last{};

  void write(const std::string& text) {
    if (!sink->write(text.data(), text.size())) throw ClientGone{};
  }
  void write_delta(const Delta& delta) { write(sse_data(chunk_json(meta, 0, delta, FinishReason::None))); }
  void write_fields(const json& fields) {
    json c = chunk_json(meta, 0, Delta{}, FinishReason::None);
    for (const auto& [key, value] : fields.items()) c["choices"][0]["delta"][key] = value;
    write(sse_data(c));
  }
  ReplyDelta& reply(int agent) { return replies.try_emplace(agent, *tok).first->second; }
  // The stream's last event, [DONE]; the response is complete.
  bool finish(httplib::DataSink& s) {
    write(sse_done());
    done = true;
    s.done();
    sink = nullptr;
    return true;
  }

  void on_event(int agent, const TokenEvent& event) {
    last = Clock::now();
    if (event.token < 0) return;
    if (first == Clock::time_point{}) first = last;
    const Delta delta = reply(agent).add(event.token);
    if (agent == 0) {
      if (!delta.reasoning.empty() || !delta.content.empty()) write_delta(delta);
      return;
    }
    json fields{{"index", agent}};
    if (!delta.reasoning.empty()) fields["reasoning_content"] = delta.reasoning;
    if (!delta.content.empty()) fields["content"] = delta.content;
    if (fields.size() > 1) write_fields({{"muse_agent", fields}});
  }
  void on_call(int agent, const ToolCallRecord& record) {
    if (agent == 0) {
      Delta delta;
      delta.tool_calls.push_back(server_tool_call(record, root_builtin_calls++));
      write_delta(delta);
      return;
    }
    const ServerToolCall call = server_tool_call(record, child_calls[agent]++);
    write_fields({{"muse_agent",
                   {{"index", agent},
                    {"muse_tool_calls", json::array({server_tool_call_json(call)})},
                    {"muse_tool_results", json::array({server_tool_result_json(call)})}}}});
  }
  void on_spawn(const AgentNode& parent, const SpawnRecord& record) {
    json spawn = spawn_json(record);
    spawn["agent"] = parent.index;
    write_fields({{"muse_spawn", spawn}});
    for (size_t k = 0; k < record.children.size(); ++k) {
      const json tasks = spawn["tasks"];
      const json task = tasks.is_array() && k < tasks.size() ? tasks[k] : json(nullptr);
      write_fields({{"muse_agent",
                     {{"index", record.children[k]},
                      {"parent", parent.index},
                      {"depth", parent.depth + 1},
                      {"task", task.is_object() ? task.value("task", "") : task.is_string() ? task.get<std::string>() : ""}}}});
    }
  }
  void on_agent_done(const AgentNode& agent) {
    if (agent.index == 0) return;  // the root's end is the response's finish chunk
    write_fields({{"muse_agent", {{"index", agent.index}, {"done", true}, {"summary", agent_node_json(agent, false)}}}});
  }
};

bool write_tree(TreeStream& st, httplib::DataSink& sink) {
  st.sink = &sink;
  try {
    Delta role;
    role.role = true;
    st.write_delta(role);
    AgentTree tree = make_tree(*st.engine, *st.tok, st.turn);
    register_agents(tree, st.active, st.meta.id, st.registered);
    tree.on_call = [&st](int agent, const ToolCallRecord& call) { st.on_call(agent, call); };
    tree.on_spawn = [&st](const AgentNode& parent, const SpawnRecord& record) { st.on_spawn(parent, record); };
    tree.on_agent_done = [&st](const AgentNode& agent) { st.on_agent_done(agent); };
    AgentTreeRun run;
    try {
      run = tree.run(st.turn.attachments, Prompt::of(st.turn.prompt), root_params(st.turn),
                     [&st](int agent, const TokenEvent& e) { st.on_event(agent, e); });
    } catch (const MuseError& e) {  // the engine refused the root (it was checked against the context before)
      st.write(sse_data(error_json(ApiError(500, "server_error", "", "", std::string("sub-agents failed: ") + e.what()))));
      return st.finish(sink);
    }
    st.registered.reset();
    const AgentNode& root = run.agents.at(0);
    if (root.finish_reason == FinishReason::Error)
      st.write(sse_data(error_json(ApiError(500, "server_error", "", "", "generation failed: " + root.sequence.error))));
    st.write_fields({{"muse_agents", agent_tree_json(run, /*with_traces=*/false)}});
    const Usage usage = usage_of(run, st.turn);
    count_tokens(st.counters, usage);
    const Timings timings = request_timings(usage, st.started, st.first, st.last);
    json finish = chunk_json(st.meta, 0, Delta{}, root.finish_reason);
    if (!st.turn.request.include_usage) finish["timings"] = timings_json(timings);
    st.write(sse_data(finish));
    if (st.turn.request.include_usage) st.write(sse_data(usage_chunk_json(st.meta, usage, &timings)));
    return st.finish(sink);
  } catch (const ClientGone&) {
    // The tree cancelled and took its agents on the way out (AgentTree::run cleans up after a throwing observer).
    log_info("serve", "%s: the client went away; its agents were cancelled", st.meta.id.c_str());
  } catch (const std::exception& e) {
    log_error("serve", "%s: sub-agent stream failed: %s", st.meta.id.c_str(), e.what());
  }
  st.registered.reset();
  st.sink = nullptr;
  return false;
}

}  // namespace

void stream_agent_tree(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                       httplib::Response& res, ServerCounters& counters, ActiveRequests* active) {
  auto st = std::make_shared<TreeStream>();
  st->engine = &engine;
  st->tok = &tok;
  st->meta = meta;
  st->turn = std::move(turn);
  st->active = active;
  st->counters = &counters;
  st->started = Clock::now();
  // Nothing runs before the stream: the tree starts in the content provider and cleans up there.
  serve_sse(res, counters,
            {[st](httplib::DataSink& sink) { return write_tree(*st, sink); }, [st] { return st->done; }, [] {},
             [st] { st->registered.reset(); }});
}

}  // namespace muse::server

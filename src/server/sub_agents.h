// Sub-agents over HTTP (muse_spawn): the turn answered by an agent tree (agents/spawn.h). The root agent is the
// reply itself — its reasoning_content, content and muse_tool_calls are choice 0's, as in standard mode — and
// every sub-agent it spawns streams beside it as delta.muse_agent ({"index", "parent", "depth", "task"} when it
// starts, then its reasoning_content / content / muse_tool_calls, then {"done": true, "summary"}); each spawn
// call comes as delta.muse_spawn. The whole tree (every agent's task, answer, tokens and time, each spawn's
// tasks and results) comes as muse_agents: message.muse_agents, or in the stream's last content chunk. Wire
// shapes: app/README.md, "Sub-agents".
#pragma once
#include <nlohmann/json.hpp>

#include "agents/spawn.h"
#include "server/metrics.h"
#include "server/stream.h"

namespace muse::server {

// One agent as the API shows it: {"index", "parent" (null for the root), "depth", "task", "content" (its
// answer), "tokens", "finish_reason", "started_s", "seconds", "spawns": [{"tasks", "children", "results",
// "error"}]}, with "reasoning_content" and "muse_tool_calls" when `with_trace`.
nlohmann::json agent_node_json(const AgentNode& agent, bool with_trace);
// {"agents": [agent_node_json...], "tokens", "seconds", "timed_out", "refused_spawns"}.
nlohmann::json agent_tree_json(const AgentTreeRun& run, bool with_traces);

// With `active`, every agent of the tree is registered under meta.id while it runs (answer now reaches each).
nlohmann::json complete_agent_tree(Engine& engine, const Tokenizer& tok, const ChatTurn& turn,
                                   const ResponseMeta& meta, ServerCounters* counters = nullptr,
                                   ActiveRequests* active = nullptr);
void stream_agent_tree(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                       httplib::Response& res, ServerCounters& counters, ActiveRequests* active = nullptr);

}  // namespace muse::server

// Contemplating mode over HTTP: the turn's prompt answered by ChatRequest::agents agents and a synthesis
// (agents/contemplate.h), whole (message.muse_contemplation) or streamed (every agent's deltas as
// delta.muse_agent, then the synthesis). Wire shapes: app/README.md, "Contemplating".
#pragma once
#include <nlohmann/json.hpp>

#include "agents/contemplate.h"
#include "server/metrics.h"
#include "server/stream.h"

namespace muse::server {

// One agent as the API shows it: {"index", "temperature", "content" (its answer), "confidence" (null without a
// score), "tokens", "thinking_tokens", "stop", "finish_reason", "counted", "weight"}, with its trace
// ("reasoning_content", "muse_tool_calls") when `with_trace`.
nlohmann::json agent_json(const AgentOutcome& agent, bool with_trace);
// {"synthesis", "agents_requested", "winner" (index or null), "support", "winner_votes", "threshold" (null
// unless online), "consensus_stop", "tokens", "agents": [agent_json...]}.
nlohmann::json contemplation_json(const Contemplation& contemplation, bool with_traces);

// With `active`, the run is registered under meta.id while it runs (answer now reaches every agent).
nlohmann::json complete_contemplation(Engine& engine, const Tokenizer& tok, const ChatTurn& turn,
                                      const ResponseMeta& meta, ServerCounters* counters = nullptr,
                                      ActiveRequests* active = nullptr);
void stream_contemplation(Engine& engine, const Tokenizer& tok, ChatTurn turn, const ResponseMeta& meta,
                          httplib::Response& res, ServerCounters& counters, ActiveRequests* active = nullptr);

}  // namespace muse::server

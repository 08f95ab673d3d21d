#include "agents/spawn.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "data/task.h"
#include "tokenizer/chat_format.h"
#include "tokenizer/tool_format.h"
#include "tools/trace_tools.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {

void SpawnLimits::validate() const {
  auto fail = [](const std::string& m) { throw MuseError("spawn limits: " + m, ErrorKind::InvalidRequest); };
  if (max_depth < 0 || max_depth > 4) fail("max_depth must be in 0..4, got " + std::to_string(max_depth));
  if (max_children < 1 || max_children > 16) fail("max_children must be in 1..16, got " + std::to_string(max_children));
  if (max_spawns < 0) fail("max_spawns must be >= 0, got " + std::to_string(max_spawns));
  if (max_agents < 1 || max_agents > 64) fail("max_agents must be in 1..64, got " + std::to_string(max_agents));
  if (child_max_tokens < 1) fail("child_max_tokens must be >= 1, got " + std::to_string(child_max_tokens));
  if (!(max_seconds > 0)) fail("max_seconds must be > 0");
  if (max_task_chars < 1 || max_result_chars < 1) fail("max_task_chars and max_result_chars must be >= 1");
}

int child_token_limit(const SpawnLimits& limits, int parent_max_tokens, int parent_generated) {
  return std::max(0, std::min(limits.child_max_tokens, parent_max_tokens - parent_generated));
}

ParsedSpawn parse_spawn_arguments(const nlohmann::json& arguments, const ToolContext& parent, const SpawnLimits& limits) {
  ParsedSpawn out;
  auto refuse = [&](ToolError error, std::string message) {
    out.tasks.clear();
    out.error = error;
    out.message = std::move(message);
    return out;
  };
  const std::string shape = "spawn takes {\"tasks\": [...]}: 1 to " + std::to_string(limits.max_children) +
                            " sub-tasks, each a string or {\"task\": \"...\", \"image\": i, \"table\": j}";
  if (!arguments.is_object() || !arguments.contains("tasks")) return refuse(ToolError::BadArguments, shape);
  for (const auto& [key, value] : arguments.items())
    if (key != "tasks") return refuse(ToolError::BadArguments, "unknown field \"" + key + "\"; " + shape);
  const auto& tasks = arguments.at("tasks");
  if (!tasks.is_array() || tasks.empty()) return refuse(ToolError::BadArguments, shape);
  if (tasks.size() > static_cast<size_t>(limits.max_children))
    return refuse(ToolError::LimitExceeded, "at most " + std::to_string(limits.max_children) + " tasks per spawn, got " +
                                                std::to_string(tasks.size()));
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto& item = tasks[i];
    const std::string where = "task " + std::to_string(i) + ": ";
    SpawnTask task;
    if (item.is_string()) {
      task.text = item.get<std::string>();
    } else if (item.is_object()) {
      for (const auto& [key, value] : item.items()) {
        if (key == "task" && value.is_string()) {
          task.text = value.get<std::string>();
        } else if ((key == "image" || key == "table") && value.is_number_integer()) {
          const int64_t index = value.get<int64_t>();
          const size_t have = key == "image" ? parent.images.size() : parent.tables.size();
          if (have == 0) return refuse(ToolError::NoAttachment, where + "there is no " + key + " to hand over");
          if (index < 0 || index >= static_cast<int64_t>(have))
            return refuse(ToolError::InvalidInput, where + key + " " + std::to_string(index) + " does not exist (0.." +
                                                       std::to_string(have - 1) + ")");
          (key == "image" ? task.image : task.table) = static_cast<int>(index);
        } else {
          return refuse(ToolError::BadArguments, where + "unexpected \"" + key + "\" " + value.dump() + "; " + shape);
        }
      }
    } else {
      return refuse(ToolError::BadArguments, where + "expected a string or an object; " + shape);
    }
    if (task.text.empty()) return refuse(ToolError::BadArguments, where + "the task text is empty");
    if (task.text.size() > limits.max_task_chars)
      return refuse(ToolError::LimitExceeded, where + "longer than " + std::to_string(limits.max_task_chars) + " characters");
    out.tasks.push_back(std::move(task));
  }
  return out;
}

AgentTree::AgentTree(Engine& engine, const Tokenizer& tok, const ToolRegistry& tools, ToolUseParams tool_use,
                     SpawnLimits limits, VisionParams vision)
    : engine_(engine), tok_(tok), tools_(tools), tool_use_(std::move(tool_use)), limits_(limits), vision_(vision) {
  limits_.validate();
  tool_use_.client_functions.push_back(kSpawnTool);  // a spawn call parks its agent; the tree answers it
}

namespace {

using Clock = std::chrono::steady_clock;

struct Agent {
  AgentNode node;
  ToolRunner runner;
  ToolContext context;  // the agent's attachments, which its tasks may hand on
  RequestParams params;
  SeqId id = 0;
  bool done = false;
  int generated = 0;
  int pending = 0;      // children of the open spawn still running
  size_t calls_seen = 0;  // of runner.calls(), those already shown to on_call
};

std::string ended_why(const AgentNode& child) {
  switch (child.finish_reason) {
    case FinishReason::Stop: return "gave no answer";
    case FinishReason::Length: return "ran out of tokens before answering";
    case FinishReason::Context: return "ran out of context before answering";
    case FinishReason::Cancelled: return "was stopped (the request's limits)";
    case FinishReason::Error: return "failed: " + child.sequence.error;
    case FinishReason::None: break;
  }
  return "did not finish";
}

}  // namespace

AgentTreeRun AgentTree::run(const std::vector<Segment>& prompt_segments, const Prompt& prompt, RequestParams params,
                            const std::function<void(int, const TokenEvent&)>& on_event) {
  const auto start = Clock::now();
  const auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto events = std::make_shared<EventQueue>();
  std::vector<std::unique_ptr<Agent>> agents;
  std::map<SeqId, int> by_id;
  AgentTreeRun out;
  int unfinished = 0;

  // A new agent on the engine (or, when the engine refuses it, one that ended at once with the error).
  const auto launch = [&](int parent, const std::vector<Segment>& segments, const Prompt& agent_prompt,
                          RequestParams p, std::string task) {
    const int index = static_cast<int>(agents.size());
    auto agent = std::make_unique<Agent>(Agent{
        {}, ToolRunner(tok_, tools_, tool_context_for(segments, vision_, tool_use_.limits), tool_use_),
        tool_context_for(segments, vision_, tool_use_.limits), std::move(p)});
    agent->node.index = index;
    agent->node.parent = parent;
    agent->node.depth = parent < 0 ? 0 : agents[static_cast<size_t>(parent)]->node.depth + 1;
    agent->node.task = std::move(task);
    agent->node.started_s = seconds();
    if (parent >= 0 && configure_child) configure_child(agent->params, agent->node);
    agent->runner.configure(agent->params);
    agent->params.events = events;
    Agent& a = *agent;
    agents.push_back(std::move(agent));
    try {
      a.id = engine_.add(agent_prompt, a.params);
      by_id[a.id] = index;
      ++unfinished;
      if (on_agent_start) on_agent_start(a.node, a.id);
    } catch (const MuseError& e) {
      if (parent < 0) throw;  // the caller's own request: its error is the caller's
      a.done = true;
      a.node.finish_reason = FinishReason::Error;
      a.node.sequence.error = e.what();
      a.node.finished_s = seconds();
    }
    return index;
  };

  const auto force = [&](Agent& a, Prompt segment) {
    try {
      engine_.force(a.id, std::move(segment));
    } catch (const MuseError&) {
      engine_.cancel(a.id);  // it must never stay parked
    }
  };

  const auto result_for = [&](const AgentNode& child) {
    if (child.finish_reason == FinishReason::Stop && !child.answer.empty()) {
      std::string text = child.answer;
      if (text.size() > limits_.max_result_chars) text = text.substr(0, limits_.max_result_chars) + "...";
      return text;
    }
    return "error: the sub-agent " + ended_why(child);
  };

  // Every child of the open spawn is done: their answers go to the parent, which resumes.
  const auto deliver = [&](Agent& parent) {
    SpawnRecord& record = parent.node.spawns.back();
    for (int child : record.children) record.results.push_back(result_for(agents[static_cast<size_t>(child)]->node));
    if (!parent.done) force(parent, Prompt::of(render_agent_results(tok_, record.results)));
  };

  const auto refuse = [&](Agent& a, SpawnRecord record, ToolError error, const std::string& message) {
    record.error = error;
    record.results = {std::string("error: ") + tool_error_name(error) + ": " + message};
    a.node.spawns.push_back(std::move(record));
    ++out.refused_spawns;
    if (on_spawn) on_spawn(a.node, a.node.spawns.back());
    force(a, Prompt::of(render_agent_results(tok_, a.node.spawns.back().results)));
  };

  const auto spawn = [&](Agent& a) {
    const ToolCallRecord& call = a.runner.calls().back();
    SpawnRecord record;
    record.arguments = call.arguments;
    if (call.name != kSpawnTool) {  // no other client function runs inside a tree
      engine_.cancel(a.id);
      return;
    }
    if (!limits_.enabled) return refuse(a, record, ToolError::UnknownTool, "spawning is off for this request; solve it yourself");
    if (a.node.depth >= limits_.max_depth)
      return refuse(a, record, ToolError::LimitExceeded,
                    "an agent at depth " + std::to_string(a.node.depth) + " may not spawn (max_depth " +
                        std::to_string(limits_.max_depth) + "); solve it yourself");
    if (static_cast<int>(a.node.spawns.size()) >= limits_.max_spawns)
      return refuse(a, record, ToolError::LimitExceeded,
                    "at most " + std::to_string(limits_.max_spawns) + " spawns per agent; solve the rest yourself");
    const ParsedSpawn parsed = parse_spawn_arguments(call.arguments, a.context, limits_);
    if (!parsed.ok()) return refuse(a, record, parsed.error, parsed.message);
    if (agents.size() + parsed.tasks.size() > static_cast<size_t>(limits_.max_agents))
      return refuse(a, record, ToolError::LimitExceeded,
                    "this request may run at most " + std::to_string(limits_.max_agents) + " agents");
    if (seconds() >= limits_.max_seconds) return refuse(a, record, ToolError::LimitExceeded, "this request's time is spent");
    const int tokens = child_token_limit(limits_, a.params.sampling.max_tokens, a.generated);
    if (tokens < 8) return refuse(a, record, ToolError::LimitExceeded, "no tokens left for sub-agents");
    const int parent = a.node.index;  // agents are held by pointer: `a` stays valid as children are added
    a.node.spawns.push_back(std::move(record));
    std::vector<int> children;
    for (size_t i = 0; i < parsed.tasks.size(); ++i) {
      const SpawnTask& task = parsed.tasks[i];
      std::vector<Segment> segments;
      if (task.image >= 0) segments.push_back(Segment{SegmentKind::Image, {}, a.context.images[task.image], nullptr});
      if (task.table >= 0) segments.push_back(Segment{SegmentKind::Table, {}, nullptr, a.context.tables[task.table]});
      segments.push_back(text_segment(task.text));
      RenderOptions render;
      render.vision = vision_;
      const TokenSequence child_prompt = render_prompt(tok_, segments, render);
      RequestParams p;
      p.sampling = a.params.sampling;
      p.sampling.max_tokens = tokens;
      p.sampling.seed = seed_mix(a.params.sampling.seed, static_cast<uint64_t>(agents.size()) + 1);
      p.continue_token = a.params.continue_token;
      p.logprobs = a.params.logprobs;
      p.top_logprobs = a.params.top_logprobs;
      children.push_back(launch(parent, segments, Prompt::of(child_prompt), std::move(p), task.text));
    }
    a.node.spawns.back().children = children;
    if (on_spawn) on_spawn(a.node, a.node.spawns.back());
    a.pending = 0;
    for (int child : children)
      if (!agents[static_cast<size_t>(child)]->done) ++a.pending;
    if (a.pending == 0) deliver(a);  // every child failed to start
  };

  const auto finish = [&](Agent& a) {
    a.done = true;
    --unfinished;
    a.node.sequence = engine_.wait(a.id);
    a.node.finish_reason = a.node.sequence.finish_reason;
    a.node.tokens = static_cast<int>(a.node.sequence.tokens.size());
    a.node.finished_s = seconds();
    const ParsedReply reply = parse_reply(tok_, a.node.sequence.tokens);
    a.node.thinking = reply.thinking;
    a.node.answer = trim_answer(reply.answer);
    a.node.calls = a.runner.calls();
    size_t k = 0;  // the k-th spawn call is the k-th record
    for (auto& c : a.node.calls)
      if (c.name == kSpawnTool && c.client && k < a.node.spawns.size()) {
        const auto& rec = a.node.spawns[k++];
        c.client = false;
        c.error = rec.error;
        // A refused call's one result already reads "error: <kind>: why"; the record keeps the why (as a tool's).
        const std::string prefix = std::string("error: ") + tool_error_name(rec.error) + ": ";
        for (const auto& r : rec.results) {
          const bool prefixed = rec.error != ToolError::None && r.rfind(prefix, 0) == 0;
          c.result_text += (c.result_text.empty() ? "" : "; ") + (prefixed ? r.substr(prefix.size()) : r);
        }
      }
    if (on_agent_done) on_agent_done(a.node);
    // Its children still running have no one to report to.
    for (const auto& rec : a.node.spawns)
      for (int child : rec.children)
        if (!agents[static_cast<size_t>(child)]->done) engine_.cancel(agents[static_cast<size_t>(child)]->id);
    if (a.node.parent >= 0) {
      Agent& parent = *agents[static_cast<size_t>(a.node.parent)];
      if (--parent.pending == 0) deliver(parent);
    }
  };

  launch(-1, prompt_segments, prompt, std::move(params), "");
  const bool looping = engine_.looping();
  // An observer that throws (a closed terminal, a client gone) must not leave agents running or parked.
  struct CancelUnfinished {
    Engine& engine;
    std::vector<std::unique_ptr<Agent>>& agents;
    bool armed = true;
    ~CancelUnfinished() {
      if (!armed) return;
      for (const auto& a : agents)
        if (!a->done) engine.cancel(a->id);
      for (const auto& a : agents) {
        if (a->done) continue;
        try {  // take the results, so none lingers in the engine (stepping it here when no loop runs)
          if (engine.looping()) engine.wait(a->id);
          else
            while (!engine.take(a->id)) engine.step();
        } catch (const std::exception&) {
        }
      }
    }
  } guard{engine_, agents};
  while (unfinished > 0) {
    if (!looping) engine_.step();
    auto next = looping ? events->pop(std::chrono::milliseconds(50)) : events->try_pop();
    for (; next; next = events->try_pop()) {
      const auto it = by_id.find(next->id);
      if (it == by_id.end()) continue;
      const int index = it->second;
      {
        Agent& a = *agents[static_cast<size_t>(index)];
        if (next->token >= 0) ++a.generated;
        auto segment = a.runner.on_event(*next);
        for (; a.calls_seen < a.runner.calls().size(); ++a.calls_seen) {
          const ToolCallRecord& call = a.runner.calls()[a.calls_seen];
          if (on_call && !(call.client && call.name == kSpawnTool)) on_call(index, call);
        }
        if (a.runner.waiting_for_client()) spawn(a);
        else if (segment) force(a, std::move(*segment));
      }
      if (on_event) on_event(index, *next);
      if (next->finished) finish(*agents[static_cast<size_t>(index)]);
    }
    if (!out.timed_out && seconds() >= limits_.max_seconds) {
      out.timed_out = true;
      for (const auto& a : agents)
        if (!a->done) engine_.cancel(a->id);
    }
  }
  guard.armed = false;
  for (auto& a : agents) {
    out.tokens += a->node.tokens;
    out.agents.push_back(std::move(a->node));
  }
  out.seconds = seconds();
  return out;
}

}  // namespace muse

// One agent's tool-call loop on the engine. The model writes <|tool_call|>name {json}<|/tool_call|>; the
// engine parks the sequence on <|/tool_call|> (a pause token); the ToolRunner parses the call, checks it
// against the request's limits and the tool's schema, runs it on the caller's thread (never inside the engine's
// step) and hands back the result segment, which the caller forces in; the sequence resumes.
//
//   ToolRunner runner(tok, builtin_tools(), tool_context_for(prompt_segments, vision), ToolUseParams{});
//   runner.configure(params);                         // pause on <|/tool_call|> (or ban calls when disabled)
//   ToolRun run = generate_with_tools(engine, prompt, params, runner, on_event);
//   run.calls[0].name, run.calls[0].error, run.calls[0].details (a zoom's box and crop size)
//
// Nothing the model writes can crash the loop: malformed JSON, an unknown tool, bad arguments, a call over the
// request's limits — each comes back as an error result the model can read. A call still open when the
// sequence ends (its JSON never closed before the token limit) is recorded as such.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "tokenizer/tokenizer.h"
#include "tools/registry.h"
#include "tools/tool.h"

namespace muse {

struct ToolUseParams {
  bool enabled = true;           // the built-in tools; with them off (and no client functions) <|tool_call|> is banned
  int max_calls = 8;             // calls per request; later ones get a LimitExceeded result
  int max_zooms = 4;             // crops the zoom tool may add per request (each is up to one view of tokens)
  double max_tool_seconds = 10;  // wall time of all calls of a request; once spent, calls get LimitExceeded
  ToolLimits limits;             // inputs and results of each call
  // Functions the caller answers itself (the API's client tools): a call to one is recorded, not run, and the
  // sequence stays parked on it; answer_call() then ends it (the reply ends with the call). A client function
  // of a built-in tool's name takes its place.
  std::vector<std::string> client_functions;
};

// "on" | "off" -> enabled; MuseError naming `what` otherwise.
bool parse_tools_switch(const std::string& value, const std::string& what);

// What one call was and what came of it (for display, the API's stream and eval).
struct ToolCallRecord {
  std::string name;             // as written (may be unknown)
  nlohmann::json arguments;     // as parsed (null when the body did not parse)
  std::string body;             // the raw text between the call tokens
  ToolError error = ToolError::None;
  std::string result_text;      // the result, or the error message the model saw
  nlohmann::json details;       // the tool's details (zoom: box, crop, view)
  std::shared_ptr<const Image> image;  // zoom: the crop the model was shown
  double seconds = 0;
  bool closed = true;           // false: the sequence ended inside the call
  bool in_answer = false;       // made after <|/think|>
  bool client = false;          // a call to a client function: not run, the caller answers it
  bool ok() const { return closed && error == ToolError::None; }
  // One line for people: `zoom {"bbox_2d":...} -> box (64,0)-(128,32) of image 0, a 64x32 crop seen as 80x40`,
  // `calculator {...} -> 97408`, `... -> error: invalid_input: division by zero`.
  std::string summary() const;
};

// The request's params for a tool loop: the call's closing token parks it when a tool may run (a built-in one
// with `use.enabled`, or one of the client's functions); otherwise <|tool_call|> is banned.
void configure_tool_use(RequestParams& params, const Tokenizer& tok, const ToolRegistry& tools, const ToolUseParams& use);

class ToolRunner {
 public:
  ToolRunner(const Tokenizer& tok, const ToolRegistry& tools, ToolContext context, ToolUseParams params);

  // configure_tool_use with this runner's tools and params.
  void configure(RequestParams& params) const { configure_tool_use(params, tok_, tools_, params_); }
  // Every event of the sequence, in order. When the event parks it on a call, runs the call and returns what
  // to force in (Engine::force(id, segment)); otherwise nothing.
  std::optional<Prompt> on_event(const TokenEvent& event);
  // Called for a parked call by on_event; public for tests and for callers that run calls elsewhere.
  ToolCallRecord run_call(const std::string& body);

  const std::vector<ToolCallRecord>& calls() const { return calls_; }
  // The last event parked the sequence on a call to a client function (nothing to force: the caller answers).
  bool waiting_for_client() const { return waiting_for_client_; }
  // The call being written, as text so far ("" outside a call): what a stream shows as the call grows.
  std::string open_call_text() const { return in_call_ ? tok_.decode(body_) : std::string(); }
  const ToolUseParams& params() const { return params_; }

 private:
  const Tokenizer& tok_;
  const ToolRegistry& tools_;
  ToolContext context_;
  ToolUseParams params_;
  std::vector<ToolCallRecord> calls_;
  std::vector<int> body_;  // tokens of the call being written
  bool in_call_ = false, answered_ = false, waiting_for_client_ = false;
  bool is_client(const std::string& name) const;
  int zooms_ = 0;
  double seconds_ = 0;
};

// runner.on_event, then the result forced into the engine; a result the engine refuses cancels the sequence (it
// must never stay parked forever), and so does a call to a client function (the reply ends with it). The one
// place a caller's loop answers calls.
void answer_call(Engine& engine, ToolRunner& runner, const TokenEvent& event);

struct ToolRun {
  SequenceResult sequence;
  std::vector<ToolCallRecord> calls;
};

// One request to its end with tools (Engine::generate underneath: steps on this thread, or waits on a loop).
// `on_event` sees every event, forced results included, after the runner: when an event parks the sequence on
// a call, that call is already the last of runner.calls().
ToolRun generate_with_tools(Engine& engine, const Prompt& prompt, RequestParams params, ToolRunner& runner,
                            const std::function<void(const TokenEvent&)>& on_event = {});

// Drives sequences already added with `events` as their queue (runners[i] for ids[i]) until every one has
// finished: steps the engine on this thread unless its loop runs, runs each call as it parks, forces the result.
// Returns the results in order (each taken from the engine).
// `on_event` (optional) sees every event after its runner.
std::vector<ToolRun> drive_with_tools(Engine& engine, const std::vector<SeqId>& ids,
                                      const std::shared_ptr<EventQueue>& events, std::vector<ToolRunner>& runners,
                                      const std::function<void(const TokenEvent&)>& on_event = {});

// Many requests at once (evaluation): one runner per prompt, all decoded together.
std::vector<ToolRun> run_batch_with_tools(Engine& engine, const std::vector<Prompt>& prompts,
                                          const std::vector<RequestParams>& params,
                                          std::vector<ToolRunner>& runners);

}  // namespace muse

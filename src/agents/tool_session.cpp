#include "agents/tool_session.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "tokenizer/tool_format.h"
#include "util/error.h"

namespace muse {

bool parse_tools_switch(const std::string& value, const std::string& what) {
  if (value == "on") return true;
  if (value == "off") return false;
  throw MuseError(what + ": expected on or off, got \"" + value + "\"");
}

std::string ToolCallRecord::summary() const {
  std::string out = name.empty() ? "?" : name;
  out += " " + (arguments.is_null() ? body : arguments.dump());
  if (!ok()) return out + " -> error: " + tool_error_name(error) + ": " + result_text;
  if (image && details.contains("box")) {
    const auto& b = details["box"];
    return out + " -> box (" + b[0].dump() + "," + b[1].dump() + ")-(" + b[2].dump() + "," + b[3].dump() +
           ") of image " + details["image"].dump() + ", a " + details["crop"][0].dump() + "x" +
           details["crop"][1].dump() + " crop seen as " + std::to_string(image->width) + "x" +
           std::to_string(image->height);
  }
  std::string shown = result_text;
  for (auto& c : shown)
    if (c == '\n') c = ';';
  return out + " -> " + shown;
}

ToolRunner::ToolRunner(const Tokenizer& tok, const ToolRegistry& tools, ToolContext context, ToolUseParams params)
    : tok_(tok), tools_(tools), context_(std::move(context)), params_(std::move(params)) {
  context_.limits = params_.limits;
}

void configure_tool_use(RequestParams& params, const Tokenizer& tok, const ToolRegistry& tools, const ToolUseParams& use) {
  const int begin = tok.special(Special::ToolCallBegin), end = tok.special(Special::ToolCallEnd);
  if ((use.enabled && !tools.empty()) || !use.client_functions.empty()) {
    params.pause_tokens.push_back(end);
  } else {
    params.banned_tokens.push_back(begin);
  }
}

ToolCallRecord ToolRunner::run_call(const std::string& body) {
  ToolCallRecord record;
  record.body = body;
  record.in_answer = answered_;
  const auto refuse = [&](ToolError error, std::string message) {
    record.error = error;
    record.result_text = std::move(message);
    return record;
  };
  const ParsedToolCall parsed = parse_tool_call_body(body, params_.limits.max_input_chars + 1024);
  record.name = parsed.name;
  // Every attempt counts, malformed ones too: a model stuck writing bad calls is told to answer.
  if (static_cast<int>(calls_.size()) >= params_.max_calls)
    return refuse(ToolError::LimitExceeded,
                  "this request may make at most " + std::to_string(params_.max_calls) + " tool calls; answer now");
  if (!parsed.ok()) return refuse(ToolError::BadArguments, parsed.error);
  record.arguments = parsed.arguments;
  if (is_client(parsed.name)) {
    record.client = true;  // the caller answers it
    return record;
  }
  if (!params_.enabled)
    return refuse(ToolError::UnknownTool, "the built-in tools are off for this request; there is no '" + parsed.name + "'");
  if (seconds_ >= params_.max_tool_seconds)
    return refuse(ToolError::LimitExceeded, "this request's tool time is spent; answer now");
  if (parsed.name == "zoom" && zooms_ >= params_.max_zooms)
    return refuse(ToolError::LimitExceeded, "at most " + std::to_string(params_.max_zooms) + " zooms per request");
  const auto t0 = std::chrono::steady_clock::now();
  ToolResult result = tools_.call(parsed.name, parsed.arguments, context_);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  seconds_ += record.seconds;
  if (parsed.name == "zoom" && result.ok()) ++zooms_;
  record.error = result.error;
  record.result_text = result.text;
  record.details = result.details;
  record.image = result.image;
  return record;
}

bool ToolRunner::is_client(const std::string& name) const {
  return std::find(params_.client_functions.begin(), params_.client_functions.end(), name) !=
         params_.client_functions.end();
}

std::optional<Prompt> ToolRunner::on_event(const TokenEvent& event) {
  waiting_for_client_ = false;
  const int begin = tok_.special(Special::ToolCallBegin), end = tok_.special(Special::ToolCallEnd);
  if (event.token == tok_.special(Special::ThinkEnd)) answered_ = true;
  // A forced <|tool_call|> opens a call too: a caller may require one (the API's tool_choice).
  if (event.token >= 0 && event.token == begin && !in_call_) {
    in_call_ = true;
    body_.clear();
    return std::nullopt;
  }
  if (in_call_ && event.token >= 0 && event.token != end) body_.push_back(event.token);
  if (event.finished && in_call_ && !(event.parked && event.token == end)) {
    // The sequence ended inside the call (token limit, context, cancel): nothing to run, but it was attempted.
    ToolCallRecord record;
    record.body = tok_.decode(body_);
    record.closed = false;
    record.in_answer = answered_;
    record.error = ToolError::LimitExceeded;
    record.result_text = event.token == end ? "the call closed on the token limit: no room left to run it"
                                            : "the tool call never closed before the sequence ended";
    calls_.push_back(std::move(record));
    in_call_ = false;
    return std::nullopt;
  }
  if (!event.parked) return std::nullopt;
  // Parked on <|/tool_call|> (or a call token written outside a call: an empty call).
  in_call_ = false;
  ToolCallRecord record = run_call(tok_.decode(body_));
  body_.clear();
  if (record.client) {
    calls_.push_back(std::move(record));
    waiting_for_client_ = true;
    return std::nullopt;
  }
  ToolResult shown;
  shown.error = record.error;
  shown.text = record.result_text;
  shown.image = record.image;
  const TokenSequence rendered = render_tool_result(tok_, shown.segments(), context_.vision);
  calls_.push_back(std::move(record));
  return Prompt::of(rendered);
}

void answer_call(Engine& engine, ToolRunner& runner, const TokenEvent& event) {
  auto segment = runner.on_event(event);
  if (runner.waiting_for_client()) engine.cancel(event.id);  // the reply ends with the client's call
  if (!segment) return;
  try {
    engine.force(event.id, std::move(*segment));
  } catch (const MuseError&) {
    engine.cancel(event.id);
  }
}

ToolRun generate_with_tools(Engine& engine, const Prompt& prompt, RequestParams params, ToolRunner& runner,
                            const std::function<void(const TokenEvent&)>& on_event) {
  ToolRun run;
  run.sequence = engine.generate(prompt, std::move(params), [&](const TokenEvent& event) {
    answer_call(engine, runner, event);
    if (on_event) on_event(event);
  });
  run.calls = runner.calls();
  return run;
}

std::vector<ToolRun> run_batch_with_tools(Engine& engine, const std::vector<Prompt>& prompts,
                                          const std::vector<RequestParams>& params,
                                          std::vector<ToolRunner>& runners) {
  if (params.size() != prompts.size() || runners.size() != prompts.size())
    throw MuseError("run_batch_with_tools: " + std::to_string(prompts.size()) + " prompts, " +
                    std::to_string(params.size()) + " params and " + std::to_string(runners.size()) + " runners");
  auto events = std::make_shared<EventQueue>();
  std::vector<SeqId> ids;
  for (size_t i = 0; i < prompts.size(); ++i) {
    RequestParams p = params[i];
    runners[i].configure(p);
    p.events = events;
    ids.push_back(engine.add(prompts[i], std::move(p)));
  }
  return drive_with_tools(engine, ids, events, runners);
}

std::vector<ToolRun> drive_with_tools(Engine& engine, const std::vector<SeqId>& ids,
                                      const std::shared_ptr<EventQueue>& events, std::vector<ToolRunner>& runners,
                                      const std::function<void(const TokenEvent&)>& on_event) {
  if (runners.size() != ids.size())
    throw MuseError("drive_with_tools: " + std::to_string(ids.size()) + " sequences and " +
                    std::to_string(runners.size()) + " runners");
  std::map<SeqId, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = i;
  const bool looping = engine.looping();
  size_t finished = 0;
  while (finished < ids.size()) {
    if (!looping) engine.step();
    auto next = looping ? events->pop(std::chrono::milliseconds(100)) : events->try_pop();
    for (; next; next = events->try_pop()) {
      const auto it = index.find(next->id);
      if (it == index.end()) continue;
      answer_call(engine, runners[it->second], *next);
      if (on_event) on_event(*next);
      if (next->finished) ++finished;
    }
  }
  std::vector<ToolRun> out;
  for (size_t i = 0; i < ids.size(); ++i) out.push_back({engine.wait(ids[i]), runners[i].calls()});
  return out;
}

}  // namespace muse

// How tool calls and their results look in the token stream (inside the thinking span, or in the answer for a
// client's function tools):
//   <|tool_call|>calculator {"expression":"123456*789"}<|/tool_call|><|tool_result|>97406784<|/tool_result|>
// The call's body is the tool's name, a space, then its arguments as one compact JSON object. The body
// {"name": ..., "arguments": {...}} (DeepEyes, OpenAI) is accepted too. The engine parks a sequence on
// <|/tool_call|>; the harness (agents/session.h) runs the call and forces the result in: text, or an image
// segment (a zoom's crop) with its own patch positions. Results are never loss targets, in any training stage.
//
// Sub-agents use the same call: `spawn {"tasks":["23*41","57*18"]}` (agents/spawn.h). Its result is one
// <|agent_result|>answer<|/agent_result|> per child, in task order, instead of a <|tool_result|>:
//   <|tool_call|>spawn {"tasks":["23*41","57*18"]}<|/tool_call|><|agent_result|>943<|/agent_result|><|agent_result|>1026<|/agent_result|>
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/segment.h"
#include "data/task.h"
#include "tokenizer/chat_format.h"

namespace muse {

// "name {json}" (compact JSON, keys in sorted order).
std::string tool_call_body(const std::string& name, const nlohmann::json& arguments);

struct ParsedToolCall {
  std::string name;
  nlohmann::json arguments;  // an object
  std::string error;         // non-empty: the body is malformed (what the model sees as the tool's error)
  bool ok() const { return error.empty(); }
};
// Never throws: a malformed body (no name, JSON that does not parse or never closes, arguments that are not an
// object, a body over max_chars) comes back with `error` saying what was expected.
ParsedToolCall parse_tool_call_body(const std::string& body, size_t max_chars = 16384);

// The tokens of a call: <|tool_call|> body <|/tool_call|> (the body and the closing token are what the model
// writes, so they carry `trained`; the opening token too: choosing to call is the model's decision).
void append_tool_call(TokenSequence& seq, const Tokenizer& tok, const std::string& name,
                      const nlohmann::json& arguments, bool trained);
// <|tool_result|> result <|/tool_result|>: never trained. Images get their own patch positions.
void append_tool_result(TokenSequence& seq, const Tokenizer& tok, const std::vector<Segment>& result,
                        const VisionParams& vision);
// <|agent_result|> text <|/agent_result|> per child, in order: never trained.
void append_agent_results(TokenSequence& seq, const Tokenizer& tok, const std::vector<std::string>& results);
// Just the results, from position 0 (for Engine::force).
TokenSequence render_agent_results(const Tokenizer& tok, const std::vector<std::string>& results);
// A reasoning trace with its tool calls: text up to each call's `at`, the call, its result, the rest. A spawn
// call's result segments are its children's answers (one text segment each), rendered as agent results.
void append_reasoning(TokenSequence& seq, const Tokenizer& tok, const std::string& reasoning,
                      const std::vector<TraceToolCall>& calls, bool trained, const VisionParams& vision);
// Just a result, as a sequence starting at position 0 (the engine offsets it: Engine::force(id, Prompt)).
TokenSequence render_tool_result(const Tokenizer& tok, const std::vector<Segment>& result, const VisionParams& vision);

}  // namespace muse

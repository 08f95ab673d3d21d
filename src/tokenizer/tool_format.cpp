#include "tokenizer/tool_format.h"

#include "util/error.h"

namespace muse {

std::string tool_call_body(const std::string& name, const nlohmann::json& arguments) {
  return name + " " + arguments.dump();
}

ParsedToolCall parse_tool_call_body(const std::string& body, size_t max_chars) {
  ParsedToolCall call;
  if (body.size() > max_chars) {
    call.error = "tool call of " + std::to_string(body.size()) + " characters (at most " + std::to_string(max_chars) +
                 ")";
    return call;
  }
  const size_t begin = body.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    call.error = "empty tool call: expected a tool name and JSON arguments";
    return call;
  }
  std::string json_text;
  if (body[begin] == '{') {
    json_text = body.substr(begin);
  } else {
    size_t end = begin;
    while (end < body.size() && body[end] != ' ' && body[end] != '{' && body[end] != '\n' && body[end] != '\t') ++end;
    call.name = body.substr(begin, end - begin);
    json_text = body.substr(end);
    if (json_text.find_first_not_of(" \t\r\n") == std::string::npos) json_text = "{}";
  }
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    call.error = "arguments are not valid JSON (" + std::string(e.what()).substr(std::string(e.what()).find(':') + 2) +
                 ")";
    return call;
  }
  if (call.name.empty()) {
    // {"name": ..., "arguments": {...}}: arguments may also arrive as a JSON string (OpenAI's wire form).
    if (!value.is_object() || !value.contains("name") || !value["name"].is_string()) {
      call.error = "expected a tool name then JSON arguments, or {\"name\": ..., \"arguments\": {...}}";
      return call;
    }
    call.name = value["name"].get<std::string>();
    nlohmann::json args = value.contains("arguments") ? value["arguments"] : nlohmann::json::object();
    if (args.is_string()) {
      try {
        args = nlohmann::json::parse(args.get<std::string>());
      } catch (const nlohmann::json::parse_error&) {
        call.error = "\"arguments\" is a string that is not valid JSON";
        return call;
      }
    }
    value = std::move(args);
  }
  if (!value.is_object()) {
    call.error = "arguments must be a JSON object, got " + std::string(value.type_name());
    return call;
  }
  if (call.name.empty()) {
    call.error = "empty tool name";
    return call;
  }
  call.arguments = std::move(value);
  return call;
}

void append_tool_call(TokenSequence& seq, const Tokenizer& tok, const std::string& name,
                      const nlohmann::json& arguments, bool trained) {
  seq.append_token(tok.special(Special::ToolCallBegin), trained);
  seq.append_text(tok, tool_call_body(name, arguments), trained);
  seq.append_token(tok.special(Special::ToolCallEnd), trained);
}

void append_tool_result(TokenSequence& seq, const Tokenizer& tok, const std::vector<Segment>& result,
                        const VisionParams& vision) {
  seq.append_token(tok.special(Special::ToolResultBegin), false);
  for (const auto& segment : result) {
    switch (segment.kind) {
      case SegmentKind::Text: seq.append_text(tok, segment.text, false); break;
      case SegmentKind::Image: seq.append_image(tok, patchify(*segment.image, vision)); break;
      case SegmentKind::Table: seq.append_table(tok, *segment.table, false); break;
    }
  }
  seq.append_token(tok.special(Special::ToolResultEnd), false);
}

void append_reasoning(TokenSequence& seq, const Tokenizer& tok, const std::string& reasoning,
                      const std::vector<TraceToolCall>& calls, bool trained, const VisionParams& vision) {
  size_t done = 0;
  for (const auto& call : calls) {
    if (call.at < done || call.at > reasoning.size())
      throw MuseError("tool call \"" + call.name + "\" at byte " + std::to_string(call.at) +
                      " is outside its reasoning (or out of order)", ErrorKind::Internal);
    if (!call.filled)
      throw MuseError("tool call \"" + call.name + "\" has no result: run the trace's tools first", ErrorKind::Internal);
    seq.append_text(tok, reasoning.substr(done, call.at - done), trained);
    append_tool_call(seq, tok, call.name, call.arguments, trained);
    if (call.name == kSpawnTool) {
      std::vector<std::string> answers;
      for (const auto& segment : call.result) answers.push_back(segment.text);
      append_agent_results(seq, tok, answers);
    } else {
      append_tool_result(seq, tok, call.result, vision);
    }
    done = call.at;
  }
  seq.append_text(tok, reasoning.substr(done), trained);
}

void append_agent_results(TokenSequence& seq, const Tokenizer& tok, const std::vector<std::string>& results) {
  for (const auto& text : results) {
    seq.append_token(tok.special(Special::AgentResultBegin), false);
    seq.append_text(tok, text, false);
    seq.append_token(tok.special(Special::AgentResultEnd), false);
  }
}

TokenSequence render_agent_results(const Tokenizer& tok, const std::vector<std::string>& results) {
  TokenSequence seq;
  append_agent_results(seq, tok, results);
  return seq;
}

TokenSequence render_tool_result(const Tokenizer& tok, const std::vector<Segment>& result, const VisionParams& vision) {
  TokenSequence seq;
  append_tool_result(seq, tok, result, vision);
  return seq;
}

}  // namespace muse

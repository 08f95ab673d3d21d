// A tool the model can call inside its reasoning (or a client's function tool, which the server hands back
// instead of running). A tool is a name, a description, a JSON schema for its arguments and invoke(); it never
// executes code, never touches the engine and never throws for bad arguments: every problem the model could
// cause comes back as an error result it can read and recover from.
//
//   Calculator calc;                                    // tools/calculator.h
//   ToolResult r = calc.invoke({{"expression", "2^100"}}, context);
//   r.ok, r.text == "1267650600228229401496703205376"
//
// The call/result token format lives in tokenizer/tool_format.h; the loop that runs calls for a sequence
// parked on <|/tool_call|> lives in agents/session.h.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/image.h"
#include "data/patches.h"
#include "data/segment.h"
#include "data/table.h"

namespace muse {

// Why a call failed. Text only at output (tool_error_name), e.g. in the result the model sees and in eval.
enum class ToolError {
  None,
  UnknownTool,       // no tool of that name in the request
  BadArguments,      // not JSON, or arguments that fail the tool's schema
  InvalidInput,      // well-formed, but meaningless: division by zero, a box outside the image, a missing column
  LimitExceeded,     // input, nesting, result size, exponent, zooms per request...
  NoAttachment,      // zoom without an image, table_query without a table
};
const char* tool_error_name(ToolError error);  // "unknown_tool", "bad_arguments", ...

// Per-request bounds, checked by the tools themselves (inputs) and by the session (calls and time).
struct ToolLimits {
  size_t max_input_chars = 4096;    // a calculator expression, a serialised query
  size_t max_result_chars = 1024;   // text results longer than this are refused (LimitExceeded)
  int max_nesting = 64;             // parentheses / query nesting depth
  int max_result_digits = 400;      // calculator: digits of any intermediate numerator or denominator
  int max_exponent = 4096;          // calculator: |exponent| of a power
};

// What a call may act on: the request's attachments, in the order they appear in the conversation.
struct ToolContext {
  std::vector<std::shared_ptr<const Image>> images;
  std::vector<std::shared_ptr<const Table>> tables;
  ToolLimits limits;
  VisionParams vision;  // the model's patch size and budget: zoom magnifies a crop to fill one view
};

struct ToolResult {
  ToolError error = ToolError::None;
  std::string text;                    // the result, or the error message the model sees
  std::shared_ptr<const Image> image;  // zoom: the crop, fed back as a new image segment
  std::optional<Table> table;          // table_query: a result table (text holds its CSV as well)
  nlohmann::json details;              // for display and eval (e.g. zoom's pixel box and crop size)
  bool ok() const { return error == ToolError::None; }
  static ToolResult failure(ToolError error, std::string message);
  // What the model sees between <|tool_result|> tokens: the text (an error as "error: <kind>: <message>", so
  // every failure reads the same), then the image if there is one.
  std::vector<Segment> segments() const;
};

class Tool {
 public:
  virtual ~Tool() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  // JSON schema (the subset in tools/schema.h) of the arguments object.
  virtual nlohmann::json parameters() const = 0;
  // Arguments have already passed parameters() (the registry validates); still never throws for them.
  virtual ToolResult invoke(const nlohmann::json& arguments, const ToolContext& context) const = 0;
};

}  // namespace muse

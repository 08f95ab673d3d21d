#include "tools/tool.h"

namespace muse {

const char* tool_error_name(ToolError error) {
  switch (error) {
    case ToolError::None: return "none";
    case ToolError::UnknownTool: return "unknown_tool";
    case ToolError::BadArguments: return "bad_arguments";
    case ToolError::InvalidInput: return "invalid_input";
    case ToolError::LimitExceeded: return "limit_exceeded";
    case ToolError::NoAttachment: return "no_attachment";
  }
  return "none";
}

ToolResult ToolResult::failure(ToolError error, std::string message) {
  ToolResult r;
  r.error = error;
  r.text = std::move(message);
  return r;
}

std::vector<Segment> ToolResult::segments() const {
  std::vector<Segment> out;
  if (!ok()) {
    out.push_back(text_segment(std::string("error: ") + tool_error_name(error) + ": " + text));
    return out;
  }
  if (!text.empty()) out.push_back(text_segment(text));
  if (image) out.push_back(Segment{SegmentKind::Image, {}, image, nullptr});
  return out;
}

}  // namespace muse

#include "tools/trace_tools.h"

#include "tools/registry.h"
#include "util/error.h"

namespace muse {

ToolContext tool_context_for(const std::vector<Segment>& prompt, const VisionParams& vision, ToolLimits limits) {
  ToolContext context;
  context.vision = vision;
  context.limits = limits;
  for (const auto& segment : prompt) {
    if (segment.kind == SegmentKind::Image) context.images.push_back(segment.image);
    if (segment.kind == SegmentKind::Table) context.tables.push_back(segment.table);
  }
  return context;
}

void run_trace_tools(Example& example, const VisionParams& vision) {
  if (example.tool_calls.empty()) return;
  const ToolContext context = tool_context_for(example.prompt, vision);
  for (auto& call : example.tool_calls) {
    if (call.filled) continue;
    const ToolResult result = builtin_tools().call(call.name, call.arguments, context);
    if (!result.ok())
      throw MuseError(ErrorKind::Internal, "task " + example.task + ": its trace's " + call.name + " call " +
                                               call.arguments.dump() + " failed: " + result.text);
    call.result = result.segments();
    call.filled = true;
  }
}

}  // namespace muse

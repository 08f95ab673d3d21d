// Fills the results of a reference trace's tool calls by running the real tools on the example's attachments,
// so what training shows after each call is exactly what the tool returns at run time.
#pragma once
#include "data/task.h"
#include "tools/tool.h"

namespace muse {

// The attachments of a prompt (images and tables in order of appearance) as a tool context.
ToolContext tool_context_for(const std::vector<Segment>& prompt, const VisionParams& vision, ToolLimits limits = {});

// Runs every unfilled call of example.tool_calls with the built-in tools. A call that fails is a bug in its
// task (traces call tools correctly): MuseError (Internal) naming the task and the tool's message.
void run_trace_tools(Example& example, const VisionParams& vision);

}  // namespace muse

#include "tools/registry.h"

#include <exception>

#include "tools/calculator.h"
#include "tools/schema.h"
#include "tools/table_query.h"
#include "tools/zoom.h"

namespace muse {

void ToolRegistry::add(std::shared_ptr<const Tool> tool) {
  for (auto& t : tools_)
    if (t->name() == tool->name()) {
      t = std::move(tool);
      return;
    }
  tools_.push_back(std::move(tool));
}

const Tool* ToolRegistry::find(const std::string& name) const {
  for (const auto& t : tools_)
    if (t->name() == name) return t.get();
  return nullptr;
}

std::vector<std::string> ToolRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& t : tools_) out.push_back(t->name());
  return out;
}

ToolResult ToolRegistry::call(const std::string& name, const nlohmann::json& arguments,
                              const ToolContext& context) const {
  const Tool* tool = find(name);
  if (!tool) {
    std::string known;
    for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    return ToolResult::failure(ToolError::UnknownTool,
                               "no tool \"" + name + "\"" + (known.empty() ? " (no tools)" : " (tools: " + known + ")"));
  }
  const std::string problem = schema_violation(arguments, tool->parameters());
  if (!problem.empty()) return ToolResult::failure(ToolError::BadArguments, problem);
  ToolResult result;
  try {
    result = tool->invoke(arguments, context);
  } catch (const std::exception& e) {
    // A tool bug must not take the request down: the model sees an error, the log keeps the message.
    return ToolResult::failure(ToolError::InvalidInput, std::string("the tool failed: ") + e.what());
  }
  if (result.text.size() > context.limits.max_result_chars)
    return ToolResult::failure(ToolError::LimitExceeded,
                               "result of " + std::to_string(result.text.size()) + " characters (at most " +
                                   std::to_string(context.limits.max_result_chars) + ")");
  return result;
}

const ToolRegistry& builtin_tools() {
  static const ToolRegistry registry = [] {
    ToolRegistry r;
    r.add(std::make_shared<Calculator>());
    r.add(std::make_shared<Zoom>());
    r.add(std::make_shared<TableQuery>());
    return r;
  }();
  return registry;
}

std::vector<std::string> builtin_tool_names() { return builtin_tools().names(); }

}  // namespace muse

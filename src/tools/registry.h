// The tools a request may call, by name. call() is the one entry point the session and the trace filler use:
// it checks the arguments against the tool's schema, runs the tool, bounds its result and turns anything
// unexpected into an error result — it never throws.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tools/tool.h"

namespace muse {

class ToolRegistry {
 public:
  void add(std::shared_ptr<const Tool> tool);  // replaces a tool of the same name
  const Tool* find(const std::string& name) const;
  std::vector<std::string> names() const;
  bool empty() const { return tools_.empty(); }
  ToolResult call(const std::string& name, const nlohmann::json& arguments, const ToolContext& context) const;

 private:
  std::vector<std::shared_ptr<const Tool>> tools_;
};

// calculator, zoom and table_query.
const ToolRegistry& builtin_tools();
// "calculator", "zoom", "table_query".
std::vector<std::string> builtin_tool_names();

}  // namespace muse

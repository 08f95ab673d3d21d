#include "server/client_tools.h"

#include <set>

#include "server/openai.h"

namespace muse::server {
using nlohmann::json;

namespace {

constexpr size_t kMaxFunctions = 128;  // OpenAI's limit

const std::string& string_at(const json& v, const std::string& param) {
  if (!v.is_string()) throw invalid_param(param, "'" + param + "' must be a string", "invalid_type");
  return v.get_ref<const std::string&>();
}

const json& object_at(const json& v, const std::string& param) {
  if (!v.is_object()) throw invalid_param(param, "'" + param + "' must be an object", "invalid_type");
  return v;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::shared_ptr<const constrain::JsonSchema> compile_at(const json& schema, const std::string& param) {
  try {
    return std::make_shared<const constrain::JsonSchema>(constrain::JsonSchema::compile(schema));
  } catch (const MuseError& e) {
    throw invalid_param(param, std::string("the JSON schema cannot be followed: ") + e.what(), "invalid_schema");
  }
}

ClientFunction parse_function(const json& tool, const std::string& param) {
  object_at(tool, param);
  if (!tool.contains("type")) throw invalid_param(param + ".type", "a tool needs 'type': \"function\"");
  if (string_at(tool["type"], param + ".type") != "function")
    throw invalid_param(param + ".type", "only tools of type 'function' are supported, got '" +
                                             tool["type"].get<std::string>() + "'");
  if (!tool.contains("function")) throw invalid_param(param + ".function", "a function tool needs 'function'");
  const std::string fp = param + ".function";
  const json& f = object_at(tool["function"], fp);
  if (!f.contains("name")) throw invalid_param(fp + ".name", "a function needs a 'name'");
  ClientFunction out;
  out.name = string_at(f["name"], fp + ".name");
  if (!valid_name(out.name))
    throw invalid_param(fp + ".name", "function names are 1-64 letters, digits, '_' or '-', got '" + out.name + "'");
  if (f.contains("description") && !f["description"].is_null())
    out.description = string_at(f["description"], fp + ".description");
  if (f.contains("parameters") && !f["parameters"].is_null()) out.parameters = object_at(f["parameters"], fp + ".parameters");
  if (out.parameters.empty()) out.parameters = json{{"type", "object"}, {"properties", json::object()}};
  out.schema = compile_at(out.parameters, fp + ".parameters");
  // The arguments are written as one JSON object.
  const auto& root = out.schema->nodes[static_cast<size_t>(out.schema->root)];
  for (int c = 0; c < 256; ++c)
    if (root.first[static_cast<size_t>(c)] && c != '{')
      throw invalid_param(fp + ".parameters", "a function's parameters must be a schema of an object");
  return out;
}

}  // namespace

ClientTools parse_client_tools(const json& body) {
  ClientTools out;
  auto has = [&](const char* key) { return body.contains(key) && !body[key].is_null(); };
  if (has("tools")) {
    const json& tools = body["tools"];
    if (!tools.is_array()) throw invalid_param("tools", "'tools' must be an array of function tools", "invalid_type");
    if (tools.size() > kMaxFunctions)
      throw invalid_param("tools", "at most " + std::to_string(kMaxFunctions) + " tools");
    std::set<std::string> names;
    for (size_t i = 0; i < tools.size(); ++i) {
      const std::string p = "tools[" + std::to_string(i) + "]";
      ClientFunction f = parse_function(tools[i], p);
      if (!names.insert(f.name).second)
        throw invalid_param(p + ".function.name", "two tools are named '" + f.name + "'");
      out.functions.push_back(std::move(f));
    }
  }
  if (has("tool_choice")) {
    const json& choice = body["tool_choice"];
    if (choice.is_string()) {
      const std::string& c = choice.get_ref<const std::string&>();
      if (c == "auto") out.choice = ToolChoice::Auto;
      else if (c == "none") out.choice = ToolChoice::None;
      else if (c == "required") out.choice = ToolChoice::Required;
      else throw invalid_param("tool_choice", "'tool_choice' must be none, auto, required or {\"type\": \"function\", "
                                              "\"function\": {\"name\": ...}}, got '" + c + "'");
    } else if (choice.is_object()) {
      if (!choice.contains("function") || !choice["function"].is_object() || !choice["function"].contains("name"))
        throw invalid_param("tool_choice.function.name", "a named tool_choice needs 'function': {\"name\": ...}");
      out.choice = ToolChoice::Named;
      out.named = string_at(choice["function"]["name"], "tool_choice.function.name");
      bool known = false;
      for (const auto& f : out.functions) known = known || f.name == out.named;
      if (!known)
        throw invalid_param("tool_choice.function.name", "tool_choice names '" + out.named + "', which is not in 'tools'");
    } else {
      throw invalid_param("tool_choice", "'tool_choice' must be a string or an object", "invalid_type");
    }
    if ((out.choice == ToolChoice::Required) && out.functions.empty())
      throw invalid_param("tool_choice", "tool_choice 'required' needs 'tools'");
  }
  if (has("parallel_tool_calls")) {
    if (!body["parallel_tool_calls"].is_boolean())
      throw invalid_param("parallel_tool_calls", "'parallel_tool_calls' must be a boolean", "invalid_type");
    out.parallel_tool_calls = body["parallel_tool_calls"].get<bool>();
  }
  if (has("response_format")) {
    const json& format = object_at(body["response_format"], "response_format");
    if (!format.contains("type")) throw invalid_param("response_format.type", "'response_format' needs a 'type'");
    const std::string& type = string_at(format["type"], "response_format.type");
    if (type == "text") {
      out.format = ResponseFormat::Text;
    } else if (type == "json_object") {
      out.format = ResponseFormat::JsonObject;
      out.answer_schema = std::make_shared<const constrain::JsonSchema>(constrain::JsonSchema::any_object());
    } else if (type == "json_schema") {
      out.format = ResponseFormat::JsonSchema;
      if (!format.contains("json_schema"))
        throw invalid_param("response_format.json_schema", "type json_schema needs 'json_schema': {\"name\", \"schema\"}");
      const json& spec = object_at(format["json_schema"], "response_format.json_schema");
      if (spec.contains("name") && !spec["name"].is_null()) out.format_name = string_at(spec["name"], "response_format.json_schema.name");
      if (!spec.contains("schema") || spec["schema"].is_null())
        throw invalid_param("response_format.json_schema.schema", "'json_schema' needs a 'schema'");
      out.answer_schema = compile_at(spec["schema"], "response_format.json_schema.schema");
    } else {
      throw invalid_param("response_format.type",
                          "'response_format.type' must be text, json_object or json_schema, got '" + type + "'");
    }
  }
  return out;
}

namespace {
std::string type_word(const json& schema) {
  if (!schema.is_object()) return "any";
  if (schema.contains("enum") && schema["enum"].is_array()) {
    std::string out;
    for (const auto& v : schema["enum"]) out += (out.empty() ? "" : "|") + v.dump();
    return out;
  }
  if (schema.contains("type") && schema["type"].is_string()) return schema["type"].get<std::string>();
  return "any";
}
}  // namespace

std::string functions_prompt(const std::vector<ClientFunction>& functions) {
  std::string out = "Functions you can call:";
  for (const auto& f : functions) {
    std::string args;
    const json& props = f.parameters.value("properties", json::object());
    std::set<std::string> required;
    if (f.parameters.contains("required") && f.parameters["required"].is_array())
      for (const auto& r : f.parameters["required"])
        if (r.is_string()) required.insert(r.get<std::string>());
    if (props.is_object())
      for (const auto& [key, value] : props.items())
        args += (args.empty() ? "" : ", ") + key + (required.count(key) ? "" : "?") + ": " + type_word(value);
    out += "\n" + f.name + "(" + args + ")";
    if (!f.description.empty()) out += " - " + f.description.substr(0, 200);
  }
  return out;
}

json client_tool_call_json(const ClientToolCall& call) {
  return json{{"index", call.index},
              {"id", call.id},
              {"type", "function"},
              {"function", {{"name", call.name}, {"arguments", call.arguments}}}};
}

std::string client_call_id(const std::string& response_id, int choice, int k) {
  const size_t dash = response_id.find('-');  // "chatcmpl-..." -> its unique part
  std::string tail;
  for (char c : dash == std::string::npos ? response_id : response_id.substr(dash + 1))
    if (std::isalnum(static_cast<unsigned char>(c))) tail.push_back(c);
  return "call_" + tail + "_" + std::to_string(choice) + "_" + std::to_string(k);
}

}  // namespace muse::server

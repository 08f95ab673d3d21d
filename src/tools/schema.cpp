#include "tools/schema.h"

#include <cmath>
#include <string>
#include <vector>

namespace muse {

namespace {

using nlohmann::json;

constexpr size_t kMaxQuotedBytes = 40;  // how much of a string a message quotes
constexpr size_t kMaxListed = 8;        // enum values / anyOf problems a message lists

const char* const kTypeNames[] = {"object", "array", "string", "number", "integer", "boolean", "null"};

// ---- Paths and renderings -------------------------------------------------------------------------------------

bool is_identifier(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}


std::string member_path(const std::string& path, const std::string& name) {
  return is_identifier(name) ? path + "." + name : path + "[" + quote_for_message(name) + "]";
}

std::string index_path(const std::string& path, size_t index) { return path + "[" + std::to_string(index) + "]"; }

// A short rendering of a value for "got ...": scalars as JSON, containers only named (so a message never
// recurses into, or copies, a large value).
std::string render(const json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  if (value.is_string()) return quote_for_message(value.get_ref<const std::string&>());
  if (value.is_number_float() && !std::isfinite(value.get<double>())) return "a non-finite number";
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string with_article(const std::string& type) {
  if (type == "null") return "null";
  if (type == "object" || type == "array" || type == "integer") return "an " + type;
  return "a " + type;
}

// "a string", "a string or null", "an object, an array or null".
std::string type_list(const std::vector<std::string>& types) {
  std::string out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (i) out += i + 1 == types.size() ? " or " : ", ";
    out += with_article(types[i]);
  }
  return out;
}

std::string plural(long long count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// ---- Values ----------------------------------------------------------------------------------------------------

bool is_integral(const json& value) {
  if (value.is_number_integer()) return true;  // signed and unsigned
  if (!value.is_number_float()) return false;
  const double x = value.get<double>();
  return std::isfinite(x) && std::trunc(x) == x;
}

bool matches_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "number") return value.is_number();
  if (type == "integer") return is_integral(value);
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  return false;
}

bool is_known_type(const std::string& type) {
  for (const char* name : kTypeNames)
    if (type == name) return true;
  return false;
}

// The names a "type" keyword lists (the wrong shapes of an unchecked schema give none).
std::vector<std::string> listed_types(const json& type) {
  std::vector<std::string> types;
  if (type.is_string()) types.push_back(type.get<std::string>());
  if (type.is_array())
    for (const json& t : type)
      if (t.is_string()) types.push_back(t.get<std::string>());
  return types;
}

// Long double holds every int64/uint64 exactly, so integer bounds compare exactly against integer values.
long double number_of(const json& value) {
  if (value.is_number_unsigned()) return static_cast<long double>(value.get<unsigned long long>());
  if (value.is_number_integer()) return static_cast<long double>(value.get<long long>());
  return static_cast<long double>(value.get<double>());
}

size_t code_points(const std::string& text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

// The first container nested deeper than max_depth, or a non-finite number, anywhere in the value. Checked
// once up front so everything after (==, dump) works on a value of bounded depth; recursion here stops at
// max_depth itself.
std::string structural_problem(const json& value, const std::string& path, int depth, int max_depth) {
  if (value.is_number_float() && !std::isfinite(value.get<double>())) return path + ": not a finite number";
  if (!value.is_structured()) return "";
  if (depth > max_depth) return path + ": nested deeper than " + std::to_string(max_depth) + " levels";
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      std::string problem = structural_problem(it.value(), member_path(path, it.key()), depth + 1, max_depth);
      if (!problem.empty()) return problem;
    }
  } else {
    for (size_t i = 0; i < value.size(); ++i) {
      std::string problem = structural_problem(value[i], index_path(path, i), depth + 1, max_depth);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

// ---- Validation ------------------------------------------------------------------------------------------------

// Whether the value passes the schema's "type" alone (anyOf uses it to pick the alternative meant).
bool type_accepts(const json& schema, const json& value) {
  if (schema.is_boolean()) return schema.get<bool>();
  if (!schema.is_object()) return true;
  const auto type = schema.find("type");
  if (type == schema.end()) return true;
  const std::vector<std::string> types = listed_types(*type);
  if (types.empty()) return true;
  for (const std::string& t : types)
    if (matches_type(value, t)) return true;
  return false;
}

std::string validate(const json& value, const json& schema, const std::string& path, int depth);

std::string check_number(const json& value, const json& schema, const std::string& path) {
  const long double x = number_of(value);
  struct Bound {
    const char* keyword;
    const char* expected;
    bool (*fails)(long double x, long double bound);
  };
  static const Bound bounds[] = {
      {"minimum", "at least", [](long double x, long double b) { return x < b; }},
      {"maximum", "at most", [](long double x, long double b) { return x > b; }},
      {"exclusiveMinimum", "more than", [](long double x, long double b) { return x <= b; }},
      {"exclusiveMaximum", "less than", [](long double x, long double b) { return x >= b; }},
  };
  for (const Bound& bound : bounds) {
    const auto it = schema.find(bound.keyword);
    if (it == schema.end() || !it->is_number()) continue;
    if (bound.fails(x, number_of(*it)))
      return path + ": expected " + bound.expected + " " + render(*it) + ", got " + render(value);
  }
  return "";
}

// A non-negative integer keyword (minLength, maxItems...), if the schema has one of the right shape.
bool count_keyword(const json& schema, const char* keyword, long double& out) {
  const auto it = schema.find(keyword);
  if (it == schema.end() || !is_integral(*it)) return false;
  out = number_of(*it);
  return true;
}

std::string check_length(const json& schema, const std::string& path, size_t length, const char* min_keyword,
                         const char* max_keyword, const std::string& noun) {
  long double bound;
  if (count_keyword(schema, min_keyword, bound) && static_cast<long double>(length) < bound)
    return path + ": expected at least " + plural(static_cast<long long>(bound), noun) + ", got " +
           std::to_string(length);
  if (count_keyword(schema, max_keyword, bound) && static_cast<long double>(length) > bound)
    return path + ": expected at most " + plural(static_cast<long long>(bound), noun) + ", got " +
           std::to_string(length);
  return "";
}

std::string check_any_of(const json& value, const json& alternatives, const std::string& path, int depth) {
  std::vector<std::string> problems;
  std::vector<size_t> typed;  // alternatives whose "type" accepts the value: the ones the caller likely meant
  for (size_t i = 0; i < alternatives.size(); ++i) {
    std::string problem = validate(value, alternatives[i], path, depth + 1);
    if (problem.empty()) return "";
    if (type_accepts(alternatives[i], value)) typed.push_back(problems.size());
    problems.push_back(std::move(problem));
  }
  if (problems.empty()) return "";
  if (typed.size() == 1) return problems[typed[0]];
  std::string out = path + ": matches none of the anyOf alternatives (";
  for (size_t i = 0; i < problems.size() && i < kMaxListed; ++i) {
    if (i) out += "; ";
    out += std::to_string(i + 1) + ": " + problems[i];
  }
  if (problems.size() > kMaxListed) out += "; ...";
  return out + ")";
}

std::string validate(const json& value, const json& schema, const std::string& path, int depth) {
  // A checked schema is at most kSchemaMaxDepth subschemas deep, and each call enters one.
  if (depth > kSchemaMaxDepth)
    return path + ": the schema is nested deeper than " + std::to_string(kSchemaMaxDepth) + " levels";
  if (schema.is_boolean()) return schema.get<bool>() ? "" : path + ": no value is allowed here";
  if (!schema.is_object()) return "";

  if (const auto type = schema.find("type"); type != schema.end()) {
    const std::vector<std::string> types = listed_types(*type);
    bool matched = types.empty();
    for (const std::string& t : types) matched = matched || matches_type(value, t);
    if (!matched) return path + ": expected " + type_list(types) + ", got " + render(value);
  }
  if (const auto constant = schema.find("const"); constant != schema.end() && value != *constant)
    return constant->is_structured() ? path + ": does not equal the \"const\" value"
                                     : path + ": expected " + render(*constant) + ", got " + render(value);
  if (const auto options = schema.find("enum"); options != schema.end() && options->is_array()) {
    bool found = false;
    for (const json& option : *options) found = found || value == option;
    if (!found) {
      std::string listed;
      for (size_t i = 0; i < options->size() && i < kMaxListed; ++i) listed += (i ? ", " : "") + render((*options)[i]);
      if (options->size() > kMaxListed) listed += ", ...";
      return path + ": expected " + (options->size() == 1 ? "" : "one of ") + listed + ", got " + render(value);
    }
  }

  if (value.is_number()) {
    std::string problem = check_number(value, schema, path);
    if (!problem.empty()) return problem;
  } else if (value.is_string()) {
    std::string problem = check_length(schema, path, code_points(value.get_ref<const std::string&>()), "minLength",
                                       "maxLength", "character");
    if (!problem.empty()) return problem;
  } else if (value.is_array()) {
    std::string problem = check_length(schema, path, value.size(), "minItems", "maxItems", "item");
    if (!problem.empty()) return problem;
    if (const auto items = schema.find("items"); items != schema.end() && items->is_structured()) {
      for (size_t i = 0; i < value.size(); ++i) {
        problem = validate(value[i], *items, index_path(path, i), depth + 1);
        if (!problem.empty()) return problem;
      }
    }
  } else if (value.is_object()) {
    if (const auto required = schema.find("required"); required != schema.end() && required->is_array()) {
      for (const json& name : *required)
        if (name.is_string() && !value.contains(name.get_ref<const std::string&>()))
          return path + ": missing required property " + quote_for_message(name.get<std::string>());
    }
    const auto properties = schema.find("properties");
    const bool have_properties = properties != schema.end() && properties->is_object();
    const auto additional = schema.find("additionalProperties");
    for (auto member = value.begin(); member != value.end(); ++member) {
      const std::string member_at = member_path(path, member.key());
      const json* member_schema = nullptr;
      if (have_properties) {
        const auto it = properties->find(member.key());
        if (it != properties->end()) member_schema = &*it;
      }
      if (!member_schema && additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>())
          return path + ": unexpected property " + quote_for_message(member.key());
        if (additional->is_object()) member_schema = &*additional;
      }
      if (member_schema) {
        std::string problem = validate(member.value(), *member_schema, member_at, depth + 1);
        if (!problem.empty()) return problem;
      }
    }
  }

  if (const auto any_of = schema.find("anyOf"); any_of != schema.end() && any_of->is_array())
    return check_any_of(value, *any_of, path, depth);
  return "";
}

// ---- Checking a schema -----------------------------------------------------------------------------------------

std::string check_schema(const json& schema, const std::string& path, int depth);

std::string check_type_name(const json& name, const std::string& path) {
  if (!name.is_string()) return path + ": expected a type name (a string), got " + render(name);
  if (!is_known_type(name.get_ref<const std::string&>())) {
    std::string known;
    for (const char* t : kTypeNames) known += (known.empty() ? "" : ", ") + std::string(t);
    return path + ": unknown type " + render(name) + " (types: " + known + ")";
  }
  return "";
}

std::string check_schema(const json& schema, const std::string& path, int depth) {
  if (depth > kSchemaMaxDepth) return path + ": nested deeper than " + std::to_string(kSchemaMaxDepth) + " levels";
  if (schema.is_boolean()) return "";
  if (!schema.is_object()) return path + ": expected a schema (an object or a boolean), got " + render(schema);

  if (const auto type = schema.find("type"); type != schema.end()) {
    const std::string at = path + ".type";
    if (type->is_array()) {
      if (type->empty()) return at + ": expected at least one type name";
      for (size_t i = 0; i < type->size(); ++i) {
        std::string problem = check_type_name((*type)[i], index_path(at, i));
        if (!problem.empty()) return problem;
      }
    } else if (type->is_string()) {
      std::string problem = check_type_name(*type, at);
      if (!problem.empty()) return problem;
    } else {
      return at + ": expected a type name or an array of type names, got " + render(*type);
    }
  }
  if (const auto properties = schema.find("properties"); properties != schema.end()) {
    const std::string at = path + ".properties";
    if (!properties->is_object()) return at + ": expected an object (name -> schema), got " + render(*properties);
    for (auto it = properties->begin(); it != properties->end(); ++it) {
      std::string problem = check_schema(it.value(), member_path(at, it.key()), depth + 1);
      if (!problem.empty()) return problem;
    }
  }
  if (const auto required = schema.find("required"); required != schema.end()) {
    const std::string at = path + ".required";
    if (!required->is_array()) return at + ": expected an array of property names, got " + render(*required);
    for (size_t i = 0; i < required->size(); ++i)
      if (!(*required)[i].is_string())
        return index_path(at, i) + ": expected a property name (a string), got " + render((*required)[i]);
  }
  if (const auto additional = schema.find("additionalProperties"); additional != schema.end()) {
    std::string problem = check_schema(*additional, path + ".additionalProperties", depth + 1);
    if (!problem.empty()) return problem;
  }
  if (const auto items = schema.find("items"); items != schema.end()) {
    if (items->is_array())
      return path + ".items: the tuple form (an array of schemas) is not supported; give one schema for every item";
    std::string problem = check_schema(*items, path + ".items", depth + 1);
    if (!problem.empty()) return problem;
  }
  if (const auto options = schema.find("enum"); options != schema.end()) {
    if (!options->is_array() || options->empty())
      return path + ".enum: expected a non-empty array of values, got " + render(*options);
    // Values are compared with ==, which recurses: keep them within the depth a value may have.
    std::string problem = structural_problem(*options, path + ".enum", 1, kSchemaMaxDepth);
    if (!problem.empty()) return problem;
  }
  if (const auto constant = schema.find("const"); constant != schema.end()) {
    std::string problem = structural_problem(*constant, path + ".const", 1, kSchemaMaxDepth);
    if (!problem.empty()) return problem;
  }
  for (const char* keyword : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
    const auto it = schema.find(keyword);
    if (it == schema.end()) continue;
    if (!it->is_number() || (it->is_number_float() && !std::isfinite(it->get<double>())))
      return path + "." + keyword + ": expected a number, got " + render(*it);
  }
  for (const char* keyword : {"minLength", "maxLength", "minItems", "maxItems"}) {
    const auto it = schema.find(keyword);
    if (it == schema.end()) continue;
    if (!is_integral(*it) || number_of(*it) < 0)
      return path + "." + keyword + ": expected a non-negative integer, got " + render(*it);
  }
  if (const auto any_of = schema.find("anyOf"); any_of != schema.end()) {
    const std::string at = path + ".anyOf";
    if (!any_of->is_array() || any_of->empty())
      return at + ": expected a non-empty array of schemas, got " + render(*any_of);
    for (size_t i = 0; i < any_of->size(); ++i) {
      std::string problem = check_schema((*any_of)[i], index_path(at, i), depth + 1);
      if (!problem.empty()) return problem;
    }
  }
  return "";
}

}  // namespace

std::string schema_violation(const json& value, const json& schema, int max_depth) {
  try {
    std::string problem = structural_problem(value, "arguments", 1, max_depth);
    if (!problem.empty()) return problem;
    return validate(value, schema, "arguments", 1);
  } catch (const std::exception& e) {  // only allocation can fail here; report it rather than throw
    return std::string("arguments: could not be checked (") + e.what() + ")";
  }
}

std::string schema_problem(const json& schema) {
  try {
    if (!schema.is_object()) return "parameters: expected an object (a JSON schema), got " + render(schema);
    std::string problem = check_schema(schema, "parameters", 1);
    if (!problem.empty()) return problem;
    if (const auto type = schema.find("type"); type != schema.end()) {
      const std::vector<std::string> types = listed_types(*type);
      if (types.size() != 1 || types[0] != "object")
        return "parameters.type: the arguments schema must have type \"object\", got " +
               (type->is_string() ? render(*type) : type->dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return "";
  } catch (const std::exception& e) {
    return std::string("parameters: could not be checked (") + e.what() + ")";
  }
}

// `text` as a JSON string literal, cut at kMaxQuotedBytes on a UTF-8 boundary. Invalid UTF-8 (only JSON built
// in code can hold it) is replaced rather than thrown on.
std::string quote_for_message(const std::string& text) {
  size_t end = text.size();
  if (end > kMaxQuotedBytes) {
    end = kMaxQuotedBytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  std::string out = json(text.substr(0, end)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (end < text.size()) out.insert(out.size() - 1, "...");
  return out;
}

}  // namespace muse

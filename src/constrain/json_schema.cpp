#include "constrain/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "util/error.h"

namespace muse::constrain {
using nlohmann::json;

namespace {

// Nodes every schema has, for the values `Any` may begin (and object keys, which are plain strings).
enum Fixed : int { kAny = 0, kAnyObject, kAnyArray, kString, kNumber, kWords, kFixedCount };

bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr int kMaxDigits = 17, kMaxExponentDigits = 2;

void set_first_of_kind(SchemaNode& n) {
  auto on = [&](const char* chars) {
    for (const char* p = chars; *p; ++p) n.first[static_cast<unsigned char>(*p)] = true;
  };
  switch (n.kind) {
    case NodeKind::Any: on("{[\"-0123456789tfn"); break;
    case NodeKind::Object:
    case NodeKind::AnyObject: on("{"); break;
    case NodeKind::Array: on("["); break;
    case NodeKind::String: on("\""); break;
    case NodeKind::Number:
    case NodeKind::Integer: on("-0123456789"); break;
    case NodeKind::Literals:
      for (const auto& l : n.literals)
        if (!l.empty()) n.first[static_cast<unsigned char>(l[0])] = true;
      break;
    case NodeKind::Union: break;  // from its alternatives, once all are known
  }
}

const std::set<std::string>& annotations() {
  static const std::set<std::string> names = {
      "title", "description", "default", "examples", "format", "$schema", "$id", "$comment", "strict",
      "readOnly", "writeOnly", "deprecated", "nullable", "discriminator", "$defs", "definitions",
      "additionalProperties", "contentEncoding", "contentMediaType"};
  return names;
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {
    schema_.nodes.resize(kFixedCount);
    schema_.nodes[kAny].kind = NodeKind::Any;
    schema_.nodes[kAnyObject].kind = NodeKind::AnyObject;
    schema_.nodes[kAnyObject].items = kAny;
    schema_.nodes[kAnyArray].kind = NodeKind::Array;
    schema_.nodes[kAnyArray].items = kAny;
    schema_.nodes[kString].kind = NodeKind::String;
    schema_.nodes[kNumber].kind = NodeKind::Number;
    schema_.nodes[kWords].kind = NodeKind::Literals;
    schema_.nodes[kWords].literals = {"true", "false", "null"};
  }

  JsonSchema finish(int root) {
    schema_.root = root;
    for (auto& n : schema_.nodes) set_first_of_kind(n);
    // Unions take their alternatives' first characters; repeat until nothing changes (recursive references).
    for (bool changed = true; changed;) {
      changed = false;
      for (auto& n : schema_.nodes) {
        if (n.kind != NodeKind::Union) continue;
        for (int alt : n.alternatives)
          for (int c = 0; c < 256; ++c)
            if (schema_.nodes[static_cast<size_t>(alt)].first[static_cast<size_t>(c)] && !n.first[static_cast<size_t>(c)])
              n.first[static_cast<size_t>(c)] = changed = true;
      }
    }
    // A union that reaches itself through unions alone ({"$ref": "#"} at the root) would never write anything.
    std::vector<int> state(schema_.nodes.size(), 0);  // 0 unseen, 1 on the path, 2 done
    std::function<void(size_t)> visit = [&](size_t i) {
      state[i] = 1;
      for (int alt : schema_.nodes[i].alternatives) {
        const auto a = static_cast<size_t>(alt);
        if (schema_.nodes[a].kind != NodeKind::Union || state[a] == 2) continue;
        if (state[a] == 1) throw MuseError(union_paths_[i] + ": refers to itself without a value in between");
        visit(a);
      }
      state[i] = 2;
    };
    for (size_t i = 0; i < schema_.nodes.size(); ++i)
      if (schema_.nodes[i].kind == NodeKind::Union && state[i] == 0) visit(i);
    for (size_t i = 0; i < schema_.nodes.size(); ++i) {
      const auto& n = schema_.nodes[i];
      if (n.kind != NodeKind::Union) continue;
      std::array<int, 256> owner;
      owner.fill(-1);
      for (size_t a = 0; a < n.alternatives.size(); ++a)
        for (int c = 0; c < 256; ++c) {
          if (!schema_.nodes[static_cast<size_t>(n.alternatives[a])].first[static_cast<size_t>(c)]) continue;
          if (owner[static_cast<size_t>(c)] >= 0)
            throw MuseError(union_paths_[i] + ": alternatives " + std::to_string(owner[static_cast<size_t>(c)]) +
                            " and " + std::to_string(a) + " can both begin with '" + std::string(1, static_cast<char>(c)) +
                            "'; Muse decodes anyOf/oneOf only when each alternative begins differently (e.g. a "
                            "string or null, an object or an array)");
          owner[static_cast<size_t>(c)] = static_cast<int>(a);
        }
    }
    return std::move(schema_);
  }

  int compile(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return kAny;
      throw MuseError(path + ": the schema false allows no value, so nothing could be written");
    }
    if (!s.is_object()) throw MuseError(path + ": a schema must be an object (or true), got " + std::string(s.type_name()));
    static const std::set<std::string> known = {"type", "properties", "required", "items", "minItems", "maxItems",
                                                "minLength", "maxLength", "enum", "const", "anyOf", "oneOf", "$ref"};
    for (const auto& [key, value] : s.items())
      if (!known.count(key) && !annotations().count(key))
        throw MuseError(path + ": the keyword '" + key +
                        "' is not supported (supported: type, properties, required, items, minItems, maxItems, "
                        "minLength, maxLength, enum, const, anyOf, oneOf, $ref; annotations are ignored)");
    if (s.contains("$ref")) return reference(s["$ref"], path + "/$ref");
    if (s.contains("const")) return literals({s["const"]}, path + "/const");
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) throw MuseError(path + "/enum: expected a non-empty array");
      return literals(s["enum"], path + "/enum");
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const json& alts = s[key];
      if (!alts.is_array() || alts.empty()) throw MuseError(path + "/" + key + ": expected a non-empty array of schemas");
      SchemaNode u;
      u.kind = NodeKind::Union;
      const int id = add(std::move(u), path + "/" + key);
      std::vector<int> compiled;
      for (size_t i = 0; i < alts.size(); ++i) compiled.push_back(compile(alts[i], path + "/" + key + "/" + std::to_string(i)));
      schema_.nodes[static_cast<size_t>(id)].alternatives = std::move(compiled);
      return id;
    }
    if (!s.contains("type")) {
      if (s.contains("properties")) return typed(s, "object", path);
      if (s.contains("items")) return typed(s, "array", path);
      return kAny;
    }
    const json& type = s["type"];
    if (type.is_string()) return typed(s, type.get<std::string>(), path);
    if (!type.is_array() || type.empty()) throw MuseError(path + "/type: expected a type name or a non-empty array of them");
    std::vector<std::string> names;
    for (const auto& t : type) {
      if (!t.is_string()) throw MuseError(path + "/type: expected type names, got " + t.dump());
      names.push_back(t.get<std::string>());
    }
    const bool has_number = std::find(names.begin(), names.end(), "number") != names.end();
    if (has_number) names.erase(std::remove(names.begin(), names.end(), "integer"), names.end());  // number covers it
    if (names.size() == 1) return typed(s, names[0], path);
    SchemaNode u;
    u.kind = NodeKind::Union;
    const int id = add(std::move(u), path + "/type");
    std::vector<int> alts;
    for (const auto& name : names) alts.push_back(typed(s, name, path));
    schema_.nodes[static_cast<size_t>(id)].alternatives = std::move(alts);
    return id;
  }

 private:
  int add(SchemaNode node, const std::string& path) {
    if (static_cast<int>(schema_.nodes.size()) >= JsonSchema::kMaxNodes)
      throw MuseError(path + ": the schema is too large (over " + std::to_string(JsonSchema::kMaxNodes) + " parts)");
    schema_.nodes.push_back(std::move(node));
    union_paths_.resize(schema_.nodes.size());
    union_paths_.back() = path;
    return static_cast<int>(schema_.nodes.size()) - 1;
  }

  static int count(const json& s, const char* key, const std::string& path) {
    if (!s.contains(key)) return -1;
    const json& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1 << 20))
      throw MuseError(path + "/" + key + ": expected a non-negative integer, got " + v.dump());
    return static_cast<int>(v.get<int64_t>());
  }

  int literals(const json& values, const std::string& path) {
    if (values.size() > static_cast<size_t>(JsonSchema::kMaxLiterals))
      throw MuseError(path + ": at most " + std::to_string(JsonSchema::kMaxLiterals) + " values");
    SchemaNode n;
    n.kind = NodeKind::Literals;
    for (const auto& v : values) n.literals.push_back(v.dump());
    return add(std::move(n), path);
  }

  int typed(const json& s, const std::string& type, const std::string& path) {
    SchemaNode n;
    if (type == "object") {
      if (!s.contains("properties")) {
        const json extra = s.contains("additionalProperties") ? s["additionalProperties"] : json(true);
        if (extra.is_boolean() && !extra.get<bool>()) {
          n.kind = NodeKind::Object;  // no declared keys and no others: {}
          return add(std::move(n), path);
        }
        n.kind = NodeKind::AnyObject;
        const int id = add(std::move(n), path);
        const int value = compile(extra, path + "/additionalProperties");
        schema_.nodes[static_cast<size_t>(id)].items = value;
        return id;
      }
      const json& props = s["properties"];
      if (!props.is_object()) throw MuseError(path + "/properties: expected an object of schemas");
      if (props.size() > static_cast<size_t>(JsonSchema::kMaxProperties))
        throw MuseError(path + "/properties: at most " + std::to_string(JsonSchema::kMaxProperties) + " properties");
      std::set<std::string> required;
      if (s.contains("required")) {
        const json& req = s["required"];
        if (!req.is_array()) throw MuseError(path + "/required: expected an array of property names");
        for (const auto& r : req) {
          if (!r.is_string()) throw MuseError(path + "/required: expected property names, got " + r.dump());
          if (!props.contains(r.get<std::string>()))
            throw MuseError(path + "/required: '" + r.get<std::string>() + "' is required but not in properties");
          required.insert(r.get<std::string>());
        }
      }
      n.kind = NodeKind::Object;
      const int id = add(std::move(n), path);
      for (const auto& [key, value] : props.items()) {
        const std::string quoted = json(key).dump();
        const int child = compile(value, path + "/properties/" + key);
        auto& node = schema_.nodes[static_cast<size_t>(id)];
        node.keys.push_back(quoted.substr(1, quoted.size() - 2));
        node.values.push_back(child);
        node.required.push_back(required.count(key) > 0);
      }
      return id;
    }
    if (type == "array") {
      n.kind = NodeKind::Array;
      n.min_items = std::max(0, count(s, "minItems", path));
      n.max_items = count(s, "maxItems", path);
      if (n.max_items >= 0 && n.max_items < n.min_items)
        throw MuseError(path + ": maxItems " + std::to_string(n.max_items) + " is below minItems " + std::to_string(n.min_items));
      if (s.contains("items") && s["items"].is_array())
        throw MuseError(path + "/items: tuple items (an array of schemas) are not supported");
      const int id = add(std::move(n), path);
      const int items = s.contains("items") ? compile(s["items"], path + "/items") : kAny;
      schema_.nodes[static_cast<size_t>(id)].items = items;
      return id;
    }
    if (type == "string") {
      n.kind = NodeKind::String;
      n.min_length = std::max(0, count(s, "minLength", path));
      n.max_length = count(s, "maxLength", path);
      if (n.max_length >= 0 && n.max_length < n.min_length)
        throw MuseError(path + ": maxLength " + std::to_string(n.max_length) + " is below minLength " + std::to_string(n.min_length));
      return add(std::move(n), path);
    }
    if (type == "number" || type == "integer") {
      n.kind = type == "number" ? NodeKind::Number : NodeKind::Integer;
      return add(std::move(n), path);
    }
    if (type == "boolean") return literals(json::array({true, false}), path);
    if (type == "null") return literals(json::array({nullptr}), path);
    throw MuseError(path + "/type: unknown type '" + type + "' (object, array, string, number, integer, boolean, null)");
  }

  int reference(const json& ref, const std::string& path) {
    if (!ref.is_string()) throw MuseError(path + ": expected a string such as \"#/$defs/Name\"");
    const std::string target = ref.get<std::string>();
    if (const auto it = refs_.find(target); it != refs_.end()) return it->second;
    const json* s = nullptr;
    if (target == "#") {
      s = &root_;
    } else {
      for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
        const std::string p = prefix;
        if (target.compare(0, p.size(), p) != 0) continue;
        const std::string name = target.substr(p.size()), section = p.substr(2, p.size() - 3);
        if (root_.is_object() && root_.contains(section) && root_[section].is_object() && root_[section].contains(name))
          s = &root_[section][name];
      }
    }
    if (!s) throw MuseError(path + ": cannot resolve '" + target + "' (only #, #/$defs/NAME and #/definitions/NAME)");
    // A placeholder union of one first, so a recursive reference finds its node while it is being compiled.
    SchemaNode u;
    u.kind = NodeKind::Union;
    const int id = add(std::move(u), path);
    refs_[target] = id;
    const int body = compile(*s, target);
    schema_.nodes[static_cast<size_t>(id)].alternatives = {body};
    return id;
  }

  const json& root_;
  JsonSchema schema_;
  std::map<std::string, int> refs_;
  std::vector<std::string> union_paths_ = std::vector<std::string>(kFixedCount);
};

enum Phase : uint8_t {
  Start,
  ObjKeyOrEnd, ObjKeyStart, ObjKey, ObjColon, ObjAfter,
  AObjKeyOrEnd, AObjKeyStart, AObjColon, AObjAfter,
  ArrFirst, ArrAfter,
  Str, StrEsc, StrHex,
  NumSign, NumZero, NumInt, NumDot, NumFrac, NumE, NumESign, NumExp,
  Lit,
};

bool required_from(const SchemaNode& n, int from) {
  for (size_t j = static_cast<size_t>(from); j < n.required.size(); ++j)
    if (n.required[j]) return true;
  return false;
}

// Keys that may come next in an object whose next property is `from`: it and the optional ones after it, up
// to and including the first required one.
uint64_t key_candidates(const SchemaNode& n, int from) {
  uint64_t out = 0;
  for (size_t j = static_cast<size_t>(from); j < n.keys.size(); ++j) {
    out |= uint64_t{1} << j;
    if (n.required[j]) break;
  }
  return out;
}

}  // namespace

JsonSchema JsonSchema::compile(const json& schema) {
  Compiler compiler(schema);
  const int root = compiler.compile(schema, "#");
  return compiler.finish(root);
}

JsonSchema JsonSchema::any_object() {
  Compiler compiler(json::object());
  return compiler.finish(kAnyObject);
}

JsonMatcher::JsonMatcher(std::shared_ptr<const JsonSchema> schema) : schema_(std::move(schema)) {
  stack_.push_back(Frame{schema_->root, Start});
}

bool JsonMatcher::push_value(int node) {
  if (static_cast<int>(stack_.size()) >= JsonSchema::kMaxDepth) return false;
  stack_.push_back(Frame{node, Start});
  return true;
}

bool JsonMatcher::start(Frame& f, unsigned char c) {
  for (;;) {
    const SchemaNode& n = schema_->nodes[static_cast<size_t>(f.node)];
    switch (n.kind) {
      case NodeKind::Any:
        if (c == '{') f.node = kAnyObject;
        else if (c == '[') f.node = kAnyArray;
        else if (c == '"') f.node = kString;
        else if (c == '-' || is_digit(c)) f.node = kNumber;
        else if (c == 't' || c == 'f' || c == 'n') f.node = kWords;
        else return false;
        continue;
      case NodeKind::Union: {
        int next = -1;
        for (int alt : n.alternatives)
          if (schema_->nodes[static_cast<size_t>(alt)].first[c]) next = alt;
        if (next < 0) return false;
        f.node = next;
        continue;
      }
      case NodeKind::Object:
        if (c != '{') return false;
        f.phase = ObjKeyOrEnd;
        return true;
      case NodeKind::AnyObject:
        if (c != '{') return false;
        f.phase = AObjKeyOrEnd;
        return true;
      case NodeKind::Array:
        if (c != '[') return false;
        f.phase = ArrFirst;
        return true;
      case NodeKind::String:
        if (c != '"') return false;
        f.phase = Str;
        return true;
      case NodeKind::Number:
      case NodeKind::Integer:
        if (c == '-') f.phase = NumSign;
        else if (c == '0') f.phase = NumZero;
        else if (is_digit(c)) f.phase = NumInt;
        else return false;
        f.count = c == '-' ? 0 : 1;  // digits so far
        return true;
      case NodeKind::Literals: {
        f.cands = 0;
        for (size_t j = 0; j < n.literals.size(); ++j)
          if (n.literals[j][0] == static_cast<char>(c)) f.cands |= uint64_t{1} << j;
        if (!f.cands) return false;
        f.phase = Lit;
        f.count = 1;
        bool longer = false;
        for (size_t j = 0; j < n.literals.size(); ++j)
          if ((f.cands >> j & 1) && n.literals[j].size() > 1) longer = true;
        if (!longer) stack_.pop_back();  // a one-character literal is whole
        return true;
      }
    }
    return false;
  }
}

bool JsonMatcher::feed(unsigned char c) {
  for (;;) {
    if (stack_.empty()) return false;  // the value is whole: nothing may follow
    Frame& f = stack_.back();
    const SchemaNode& n = schema_->nodes[static_cast<size_t>(f.node)];
    switch (static_cast<Phase>(f.phase)) {
      case Start: return start(f, c);
      case ObjKeyOrEnd:
        if (c == '}' && !required_from(n, f.count)) {
          stack_.pop_back();
          return true;
        }
        [[fallthrough]];
      case ObjKeyStart:
        if (c != '"') return false;
        f.cands = key_candidates(n, f.count);
        if (!f.cands) return false;
        f.aux = 0;
        f.phase = ObjKey;
        return true;
      case ObjKey: {
        if (c == '"') {
          for (size_t j = 0; j < n.keys.size(); ++j)
            if ((f.cands >> j & 1) && n.keys[j].size() == static_cast<size_t>(f.aux)) {
              f.count = static_cast<int32_t>(j) + 1;
              f.aux = static_cast<int32_t>(j);  // the property whose value comes next
              f.phase = ObjColon;
              return true;
            }
          return false;
        }
        uint64_t next = 0;
        for (size_t j = 0; j < n.keys.size(); ++j)
          if ((f.cands >> j & 1) && static_cast<size_t>(f.aux) < n.keys[j].size() &&
              n.keys[j][static_cast<size_t>(f.aux)] == static_cast<char>(c))
            next |= uint64_t{1} << j;
        if (!next) return false;
        f.cands = next;
        ++f.aux;
        return true;
      }
      case ObjColon: {
        if (c != ':') return false;
        const int value = n.values[static_cast<size_t>(f.aux)];
        f.phase = ObjAfter;
        return push_value(value);
      }
      case ObjAfter:
        if (c == ',' && key_candidates(n, f.count)) {
          f.phase = ObjKeyStart;
          return true;
        }
        if (c == '}' && !required_from(n, f.count)) {
          stack_.pop_back();
          return true;
        }
        return false;
      case AObjKeyOrEnd:
        if (c == '}') {
          stack_.pop_back();
          return true;
        }
        [[fallthrough]];
      case AObjKeyStart:
        if (c != '"') return false;
        f.phase = AObjColon;
        if (!push_value(kString)) return false;
        stack_.back().phase = Str;  // the key's opening quote is this character
        return true;
      case AObjColon: {
        if (c != ':') return false;
        const int value = n.items;
        f.phase = AObjAfter;
        return push_value(value);
      }
      case AObjAfter:
        if (c == ',') {
          f.phase = AObjKeyStart;
          return true;
        }
        if (c == '}') {
          stack_.pop_back();
          return true;
        }
        return false;
      case ArrFirst: {
        if (c == ']' && n.min_items == 0) {
          stack_.pop_back();
          return true;
        }
        if (n.max_items == 0) return false;
        const int items = n.items;
        f.phase = ArrAfter;
        f.count = 1;
        if (!push_value(items)) return false;
        continue;  // the first item begins with this character
      }
      case ArrAfter: {
        if (c == ',' && (n.max_items < 0 || f.count < n.max_items)) {
          const int items = n.items;
          ++f.count;
          return push_value(items);
        }
        if (c == ']' && f.count >= n.min_items) {
          stack_.pop_back();
          return true;
        }
        return false;
      }
      case Str: {
        const bool full = n.max_length >= 0 && f.count >= n.max_length;
        if (c == '"') {
          if (f.count < n.min_length) return false;
          stack_.pop_back();
          return true;
        }
        if (c == '\\') {
          if (full) return false;
          f.phase = StrEsc;
          return true;
        }
        if (c < 0x20) return false;  // control characters must be escaped
        if ((c & 0xC0) != 0x80) {    // a character starts here (UTF-8 continuation bytes do not count)
          if (full) return false;
          ++f.count;
        }
        return true;
      }
      case StrEsc:
        if (c != 0 && std::strchr("\"\\/bfnrt", c)) {
          ++f.count;
          f.phase = Str;
          return true;
        }
        if (c == 'u') {
          f.phase = StrHex;
          f.aux = 0;
          return true;
        }
        return false;
      case StrHex:
        if (!std::isxdigit(c)) return false;
        if (++f.aux == 4) {
          ++f.count;
          f.phase = Str;
        }
        return true;
      case NumSign:
        if (c == '0') f.phase = NumZero;
        else if (is_digit(c)) f.phase = NumInt;
        else return false;
        f.count = 1;
        return true;
      case NumDot:
        if (!is_digit(c) || f.count >= kMaxDigits) return false;
        f.phase = NumFrac;
        ++f.count;
        return true;
      case NumE:
        if (c == '+' || c == '-') f.phase = NumESign;
        else if (is_digit(c)) f.phase = NumExp, f.aux = 1;
        else return false;
        return true;
      case NumESign:
        if (!is_digit(c)) return false;
        f.phase = NumExp;
        f.aux = 1;
        return true;
      case NumZero:
      case NumInt:
      case NumFrac:
      case NumExp: {
        const bool number = n.kind == NodeKind::Number;
        if (is_digit(c) && f.phase != NumZero) {
          // Every number written fits a double: 17 significant digits, exponents up to 99.
          if (f.phase == NumExp ? f.aux >= kMaxExponentDigits : f.count >= kMaxDigits) return false;
          ++(f.phase == NumExp ? f.aux : f.count);
          return true;
        }
        if (number && c == '.' && (f.phase == NumZero || f.phase == NumInt)) {
          f.phase = NumDot;
          return true;
        }
        if (number && (c == 'e' || c == 'E') && f.phase != NumExp) {
          f.phase = NumE;
          return true;
        }
        stack_.pop_back();  // the number ends here; this character belongs to what follows
        continue;
      }
      case Lit: {
        uint64_t next = 0;
        bool whole = false;
        for (size_t j = 0; j < n.literals.size(); ++j) {
          if (!(f.cands >> j & 1)) continue;
          const std::string& l = n.literals[j];
          if (l.size() == static_cast<size_t>(f.count)) whole = true;
          else if (l[static_cast<size_t>(f.count)] == static_cast<char>(c)) next |= uint64_t{1} << j;
        }
        if (next) {
          f.cands = next;
          ++f.count;
          bool longer = false;
          for (size_t j = 0; j < n.literals.size(); ++j)
            if ((next >> j & 1) && n.literals[j].size() > static_cast<size_t>(f.count)) longer = true;
          if (!longer) stack_.pop_back();
          return true;
        }
        if (!whole) return false;
        stack_.pop_back();  // a literal that could have gone on ended; this character follows it
        continue;
      }
    }
    return false;
  }
}

bool JsonMatcher::feed(const std::string& text) {
  for (unsigned char c : text)
    if (!feed(c)) return false;
  return true;
}

std::optional<char> JsonMatcher::closer() const {
  // From the top frame down: a frame whose value is whole hands the choice to the one below it.
  for (size_t k = stack_.size(); k-- > 0;) {
    const Frame& f = stack_[k];
    const SchemaNode& n = schema_->nodes[static_cast<size_t>(f.node)];
    switch (static_cast<Phase>(f.phase)) {
      case NumZero:
      case NumInt:
      case NumFrac:
      case NumExp: continue;  // whole: what closes is the container's
      case Lit: {
        bool whole = false;
        for (size_t j = 0; j < n.literals.size(); ++j)
          if ((f.cands >> j & 1) && n.literals[j].size() == static_cast<size_t>(f.count)) whole = true;
        if (whole) continue;
        return std::nullopt;
      }
      case Str:
        if (f.count >= n.min_length) return '"';
        return std::nullopt;
      case ObjKeyOrEnd:
      case ObjAfter:
        if (!required_from(n, f.count)) return '}';
        return std::nullopt;
      case AObjKeyOrEnd:
      case AObjAfter: return '}';
      case ArrFirst:
        if (n.min_items == 0) return ']';
        return std::nullopt;
      case ArrAfter:
        if (f.count >= n.min_items) return ']';
        return std::nullopt;
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

bool JsonMatcher::complete() const {
  if (stack_.empty()) return true;
  if (stack_.size() != 1) return false;
  const Frame& f = stack_.back();
  switch (static_cast<Phase>(f.phase)) {
    case NumZero:
    case NumInt:
    case NumFrac:
    case NumExp: return true;
    case Lit: {
      const SchemaNode& n = schema_->nodes[static_cast<size_t>(f.node)];
      for (size_t j = 0; j < n.literals.size(); ++j)
        if ((f.cands >> j & 1) && n.literals[j].size() == static_cast<size_t>(f.count)) return true;
      return false;
    }
    default: return false;
  }
}

}  // namespace muse::constrain

// JSON by a schema, character by character: what a decoder needs to write only valid JSON (the API's
// response_format json_object / json_schema, and a client function's arguments).
//
//   auto schema = std::make_shared<const JsonSchema>(JsonSchema::compile(json::parse(R"({"type":"object",...})")));
//   JsonMatcher m(schema);
//   JsonMatcher copy = m;  if (copy.feed('{')) m = copy;   // feed() is all-or-nothing per character
//   m.finished();  // one whole value was written and nothing may follow
//
// The JSON written is compact (no whitespace outside strings) and its numbers fit a double (at most 17 digits,
// exponents up to 99). Supported: `type` (one or a list), objects'
// `properties` and `required` (keys are written in the schema's key order, nlohmann's sorted order; optional ones
// may be left out; undeclared keys are never written; an object without properties takes any keys), arrays'
// `items`, `minItems`, `maxItems`, strings' `minLength`, `maxLength`, `enum`, `const`, `anyOf` / `oneOf` whose
// alternatives begin with different characters, and `$ref` to `#`, `#/$defs/NAME` or `#/definitions/NAME`
// (recursion included). Annotations are ignored (title, description, default, examples, format, $schema, $id,
// $comment, strict, additionalProperties, readOnly, ...). Any other keyword (pattern, minimum, not, if, ...) is
// refused by compile() with the path where it appears, so a client never gets JSON that breaks its schema.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace muse::constrain {

enum class NodeKind { Any, Object, AnyObject, Array, String, Number, Integer, Literals, Union };

struct SchemaNode {
  NodeKind kind = NodeKind::Any;
  // Object: properties in the order they are written, with their JSON-escaped names and value nodes.
  std::vector<std::string> keys;
  std::vector<int> values;
  std::vector<bool> required;
  // Array.
  int items = -1;
  int min_items = 0, max_items = -1;  // -1: no bound
  // String.
  int min_length = 0, max_length = -1;
  // Literals (enum, const, true/false/null): each value's compact JSON text.
  std::vector<std::string> literals;
  // Union: alternatives, told apart by their first character.
  std::vector<int> alternatives;
  std::array<bool, 256> first{};  // characters a value of this node may begin with
};

struct JsonSchema {
  // Limits that keep a hostile schema cheap (compile() refuses beyond them).
  static constexpr int kMaxNodes = 2048;
  static constexpr int kMaxProperties = 64;  // per object
  static constexpr int kMaxLiterals = 64;    // per enum
  static constexpr int kMaxDepth = 32;       // nesting of values being written

  std::vector<SchemaNode> nodes;
  int root = 0;

  // Compiles a JSON Schema (an object, or true for anything). MuseError "PATH: what is wrong" otherwise, PATH a
  // JSON pointer into the schema ("#/properties/age").
  static JsonSchema compile(const nlohmann::json& schema);
  // response_format json_object: any JSON object.
  static JsonSchema any_object();
};

class JsonMatcher {
 public:
  explicit JsonMatcher(std::shared_ptr<const JsonSchema> schema);
  // Takes one byte of the text. False (and the state is then undefined: feed a copy) when it cannot come next.
  bool feed(unsigned char c);
  bool feed(const std::string& text);  // every byte, in order
  // The text so far is one whole value (a number may still go on: "12" may become "123").
  bool complete() const;
  // One whole value was written and nothing may follow.
  bool finished() const { return stack_.empty(); }
  // The character that brings the value closest to its end from here ('"', '}' or ']'), if one may come next:
  // where a writer that wants to stop is steered (ReplyConstraint gives it the end token's probability).
  std::optional<char> closer() const;

 private:
  struct Frame {
    int node = 0;
    uint8_t phase = 0;
    int32_t count = 0;   // object: next property; array: items; string: characters; literal: position
    int32_t aux = 0;     // object key: position in the key; string \u escape: hex digits
    uint64_t cands = 0;  // object key / literal candidates (bit i = keys[i] / literals[i])
  };
  bool start(Frame& f, unsigned char c);  // the first character of a value
  bool push_value(int node);
  std::shared_ptr<const JsonSchema> schema_;
  std::vector<Frame> stack_;
};

}  // namespace muse::constrain

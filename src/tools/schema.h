// A JSON-schema validator for tool arguments: the subset OpenAI function tools use for `parameters` and our
// built-in tools need, nothing more. Checking a schema (schema_problem) and checking a value against it
// (schema_violation) are separate so the server can refuse a client's bad tool definition up front (HTTP 400)
// and the registry can turn a model's bad call into a readable BadArguments result.
//
//   schema_violation({{"bbox_2d", {1, 2, "a", 4}}}, schema)
//       == "arguments.bbox_2d[2]: expected a number, got \"a\""
//
// Keywords understood (each applies only to values of its own type, as in JSON Schema):
//   type                  "object" "array" "string" "number" "integer" "boolean" "null", or an array of these.
//                         "integer" accepts any integral number (3 and 3.0); "number" accepts integers too.
//   properties            object: name -> schema for that member
//   required              array of names the object must have
//   additionalProperties  false: members not in `properties` are refused; true or absent: allowed; a schema:
//                         they must match it
//   items                 schema every element of an array must match (the tuple form, an array, is refused)
//   enum, const           the value must equal one of the listed values / the given value (3 equals 3.0)
//   minimum maximum exclusiveMinimum exclusiveMaximum     numeric bounds (numbers)
//   minLength maxLength   string length in Unicode code points
//   minItems maxItems     array length
//   anyOf                 non-empty array of schemas; the value must match at least one
// A schema is a JSON object or a boolean (true accepts anything, false nothing). Every other keyword
// (description, title, default, examples, $schema, format, pattern, $ref, $defs, ...) is ignored, never an
// error: a $ref node therefore accepts any value.
//
// Messages name the JSON path from the root "arguments" (members as .name, or ["odd name"] when the name is
// not an identifier; elements as [i]) and quote at most a short rendering of the offending value (strings cut
// at 40 bytes; arrays and objects only named), so a message stays one short line.
//
// Depth is bounded: a value nested deeper than max_depth levels, or a schema deeper than kSchemaMaxDepth
// subschema levels, is a violation/problem message, never a stack overflow. Non-finite numbers (which only
// JSON built in code can hold) are always a violation. Neither function throws.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace muse {

// Most levels of nesting allowed in a value (arrays/objects) and in a schema (subschemas within subschemas).
inline constexpr int kSchemaMaxDepth = 64;

// "" when `value` matches `schema`, else the first problem found, "PATH: what was expected, got what".
// Assumes schema_problem(schema) == ""; a keyword of the wrong shape in an unchecked schema is ignored.
std::string schema_violation(const nlohmann::json& value, const nlohmann::json& schema,
                             int max_depth = kSchemaMaxDepth);

// "" when `schema` is a usable arguments schema of the subset above, else the first problem, naming its path
// from the root "parameters" (e.g. `parameters.properties.bbox.type: unknown type "float"`). The root must be
// a JSON object, and its "type", if present, must be "object" (arguments are always an object); {} accepts
// any arguments.
std::string schema_problem(const nlohmann::json& schema);

// `text` as a JSON string literal for an error message: cut at 40 bytes on a UTF-8 boundary ("..." marks the
// cut); invalid UTF-8 is replaced, never thrown on.
std::string quote_for_message(const std::string& text);

}  // namespace muse

#include "tools/schema.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace muse {
namespace {

using nlohmann::json;

// The arguments schema of a tool taking one property `name` with the given schema.
json with_property(const std::string& name, const json& schema) {
  return {{"type", "object"}, {"properties", {{name, schema}}}};
}

std::string violation(const json& value, const json& property_schema) {
  return schema_violation({{"x", value}}, with_property("x", property_schema));
}

// ---- type ----------------------------------------------------------------------------------------------------

TEST(Schema, EachTypePassesAndFails) {
  EXPECT_EQ(violation(json::object(), {{"type", "object"}}), "");
  EXPECT_EQ(violation(json::array(), {{"type", "object"}}), "arguments.x: expected an object, got an array");
  EXPECT_EQ(violation({1, 2}, {{"type", "array"}}), "");
  EXPECT_EQ(violation("a", {{"type", "array"}}), "arguments.x: expected an array, got \"a\"");
  EXPECT_EQ(violation("a", {{"type", "string"}}), "");
  EXPECT_EQ(violation(3, {{"type", "string"}}), "arguments.x: expected a string, got 3");
  EXPECT_EQ(violation(2.5, {{"type", "number"}}), "");
  EXPECT_EQ(violation(7, {{"type", "number"}}), "");
  EXPECT_EQ(violation(true, {{"type", "number"}}), "arguments.x: expected a number, got true");
  EXPECT_EQ(violation(7, {{"type", "integer"}}), "");
  EXPECT_EQ(violation(2.5, {{"type", "integer"}}), "arguments.x: expected an integer, got 2.5");
  EXPECT_EQ(violation(false, {{"type", "boolean"}}), "");
  EXPECT_EQ(violation(0, {{"type", "boolean"}}), "arguments.x: expected a boolean, got 0");
  EXPECT_EQ(violation(nullptr, {{"type", "null"}}), "");
  EXPECT_EQ(violation("", {{"type", "null"}}), "arguments.x: expected null, got \"\"");
}

TEST(Schema, IntegralFloatsAreIntegers) {
  EXPECT_EQ(violation(3.0, {{"type", "integer"}}), "");
  EXPECT_EQ(violation(-0.0, {{"type", "integer"}}), "");
  EXPECT_EQ(violation(18446744073709551615ull, {{"type", "integer"}}), "");  // unsigned 64-bit
}

TEST(Schema, TypeArrays) {
  const json schema = {{"type", {"string", "number", "null"}}};
  EXPECT_EQ(violation("a", schema), "");
  EXPECT_EQ(violation(1.5, schema), "");
  EXPECT_EQ(violation(nullptr, schema), "");
  EXPECT_EQ(violation(true, schema), "arguments.x: expected a string, a number or null, got true");
  EXPECT_EQ(violation(true, {{"type", {"string", "integer"}}}),
            "arguments.x: expected a string or an integer, got true");
}

TEST(Schema, NonFiniteNumbersAreInvalid) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(violation(nan, {{"type", "number"}}), "arguments.x: not a finite number");
  EXPECT_EQ(violation(inf, json::object()), "arguments.x: not a finite number");  // whatever the schema says
  EXPECT_EQ(violation(json::array({1, -inf}), {{"type", "array"}}), "arguments.x[1]: not a finite number");
}

// ---- objects -----------------------------------------------------------------------------------------------------

TEST(Schema, RequiredProperties) {
  const json schema = {
      {"type", "object"}, {"properties", {{"expression", {{"type", "string"}}}}}, {"required", {"expression"}}};
  EXPECT_EQ(schema_violation({{"expression", "1+1"}}, schema), "");
  EXPECT_EQ(schema_violation(json::object(), schema), "arguments: missing required property \"expression\"");
  EXPECT_EQ(schema_violation({{"expression", 2}}, schema), "arguments.expression: expected a string, got 2");
}

TEST(Schema, AdditionalProperties) {
  json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  EXPECT_EQ(schema_violation({{"a", 1}, {"foo", 2}}, schema), "");  // allowed by default
  schema["additionalProperties"] = true;
  EXPECT_EQ(schema_violation({{"a", 1}, {"foo", 2}}, schema), "");
  schema["additionalProperties"] = false;
  EXPECT_EQ(schema_violation({{"a", 1}}, schema), "");
  EXPECT_EQ(schema_violation({{"a", 1}, {"foo", 2}}, schema), "arguments: unexpected property \"foo\"");
  schema["additionalProperties"] = {{"type", "string"}};
  EXPECT_EQ(schema_violation({{"a", 1}, {"foo", "s"}}, schema), "");
  EXPECT_EQ(schema_violation({{"a", 1}, {"foo", 2}}, schema), "arguments.foo: expected a string, got 2");
}

TEST(Schema, NestedPathsAndOddNames) {
  const json schema = {
      {"type", "object"},
      {"properties",
       {{"outer",
         {{"type", "object"}, {"properties", {{"a b", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}}}}};
  EXPECT_EQ(schema_violation({{"outer", {{"a b", {"x", 1}}}}}, schema),
            "arguments.outer[\"a b\"][1]: expected a string, got 1");
}

// ---- arrays ------------------------------------------------------------------------------------------------------

TEST(Schema, ItemsNamesTheIndex) {
  const json schema = with_property("bbox_2d", {{"type", "array"}, {"items", {{"type", "number"}}}});
  EXPECT_EQ(schema_violation({{"bbox_2d", {1, 2, 3, 4}}}, schema), "");
  EXPECT_EQ(schema_violation({{"bbox_2d", {1, 2, "a", 4}}}, schema),
            "arguments.bbox_2d[2]: expected a number, got \"a\"");
}

TEST(Schema, MinAndMaxItems) {
  const json schema = {{"type", "array"}, {"minItems", 1}, {"maxItems", 2}};
  EXPECT_EQ(violation({1}, schema), "");
  EXPECT_EQ(violation({1, 2}, schema), "");
  EXPECT_EQ(violation(json::array(), schema), "arguments.x: expected at least 1 item, got 0");
  EXPECT_EQ(violation({1, 2, 3}, schema), "arguments.x: expected at most 2 items, got 3");
}

// ---- strings -----------------------------------------------------------------------------------------------------

TEST(Schema, MinAndMaxLengthCountCodePoints) {
  const json schema = {{"type", "string"}, {"minLength", 2}, {"maxLength", 3}};
  EXPECT_EQ(violation("ab", schema), "");
  EXPECT_EQ(violation("\xC3\xA9\xC3\xA9\xC3\xA9", schema), "");  // "ééé": 3 code points, 6 bytes
  EXPECT_EQ(violation("a", schema), "arguments.x: expected at least 2 characters, got 1");
  EXPECT_EQ(violation("abcd", schema), "arguments.x: expected at most 3 characters, got 4");
  EXPECT_EQ(violation("", {{"minLength", 1}}), "arguments.x: expected at least 1 character, got 0");
}

TEST(Schema, LongStringsAreCutInMessages) {
  const std::string got = violation(std::string(100, 'z'), {{"type", "number"}});
  EXPECT_EQ(got, "arguments.x: expected a number, got \"" + std::string(40, 'z') + "...\"");
}

// ---- numbers -----------------------------------------------------------------------------------------------------

TEST(Schema, MinimumAndMaximum) {
  const json schema = {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}};
  EXPECT_EQ(violation(1, schema), "");
  EXPECT_EQ(violation(1000, schema), "");
  EXPECT_EQ(violation(0, schema), "arguments.x: expected at least 1, got 0");
  EXPECT_EQ(violation(1001, schema), "arguments.x: expected at most 1000, got 1001");
  EXPECT_EQ(violation(0.5, {{"minimum", 0.75}}), "arguments.x: expected at least 0.75, got 0.5");
  EXPECT_EQ(violation("text", {{"minimum", 5}}), "");  // bounds apply to numbers only
}

TEST(Schema, ExclusiveBounds) {
  const json schema = {{"exclusiveMinimum", 0}, {"exclusiveMaximum", 10}};
  EXPECT_EQ(violation(5, schema), "");
  EXPECT_EQ(violation(0, schema), "arguments.x: expected more than 0, got 0");
  EXPECT_EQ(violation(10, schema), "arguments.x: expected less than 10, got 10");
}

// ---- enum, const, anyOf --------------------------------------------------------------------------------------------

TEST(Schema, Enum) {
  const json schema = {{"type", "string"}, {"enum", {"asc", "desc"}}};
  EXPECT_EQ(violation("asc", schema), "");
  EXPECT_EQ(violation("up", schema), "arguments.x: expected one of \"asc\", \"desc\", got \"up\"");
  EXPECT_EQ(violation(3.0, {{"enum", {1, 2, 3}}}), "");  // 3.0 equals 3
  EXPECT_EQ(violation(4, {{"enum", {1}}}), "arguments.x: expected 1, got 4");
}

TEST(Schema, Const) {
  EXPECT_EQ(violation("v1", {{"const", "v1"}}), "");
  EXPECT_EQ(violation("v2", {{"const", "v1"}}), "arguments.x: expected \"v1\", got \"v2\"");
  EXPECT_EQ(violation({{"a", 1}}, {{"const", {{"a", 1}}}}), "");
  EXPECT_EQ(violation({{"a", 2}}, {{"const", {{"a", 1}}}}), "arguments.x: does not equal the \"const\" value");
}

TEST(Schema, AnyOf) {
  const json schema = {{"anyOf", json::array({{{"type", "string"}, {"maxLength", 2}},
                                              {{"type", "array"}, {"items", {{"type", "integer"}}}}})}};
  EXPECT_EQ(violation("ab", schema), "");
  EXPECT_EQ(violation({1, 2}, schema), "");
  // Only one alternative takes a string: its problem is the one reported.
  EXPECT_EQ(violation("abc", schema), "arguments.x: expected at most 2 characters, got 3");
  EXPECT_EQ(violation({1, "a"}, schema), "arguments.x[1]: expected an integer, got \"a\"");
  EXPECT_EQ(violation(true, schema),
            "arguments.x: matches none of the anyOf alternatives (1: arguments.x: expected a string, got true; "
            "2: arguments.x: expected an array, got true)");
}

TEST(Schema, BooleanSchemas) {
  EXPECT_EQ(violation(1, true), "");
  EXPECT_EQ(violation(1, false), "arguments.x: no value is allowed here");
}

TEST(Schema, UnknownKeywordsAreIgnored) {
  const json schema = {{"type", "string"}, {"description", "d"}, {"title", "t"},        {"default", "x"},
                       {"format", "date"}, {"pattern", "^a$"},   {"$ref", "#/$defs/x"}, {"x-vendor", 1}};
  EXPECT_EQ(violation("whatever", schema), "");
  EXPECT_EQ(schema_problem(with_property("x", schema)), "");
  EXPECT_EQ(schema_problem({{"$schema", "https://json-schema.org/draft/2020-12/schema"}, {"type", "object"}}), "");
}

// ---- depth ---------------------------------------------------------------------------------------------------------

TEST(Schema, DeepValuesAreBoundedNotOverflowed) {
  json deep = json::array();
  for (int i = 0; i < 100000; ++i) deep = json::array({std::move(deep)});  // far past any stack
  json arguments = json::object();
  arguments["x"] = std::move(deep);  // moved: copying would recurse as deep as the value
  const std::string got = schema_violation(arguments, json::object());
  EXPECT_EQ(got.rfind("arguments.x", 0), 0u) << got;
  EXPECT_NE(got.find("nested deeper than 64 levels"), std::string::npos) << got;

  json ok = 1;
  for (int i = 0; i < 10; ++i) ok = json::array({ok});
  EXPECT_EQ(schema_violation({{"x", ok}}, json::object()), "");
  EXPECT_NE(schema_violation({{"x", ok}}, json::object(), 5), "");  // a caller's tighter bound
}

TEST(Schema, DeepSchemasAreBounded) {
  json schema = {{"type", "object"}};
  for (int i = 0; i < 100; ++i) schema = {{"type", "object"}, {"properties", {{"p", std::move(schema)}}}};
  const std::string problem = schema_problem(schema);
  EXPECT_NE(problem.find("nested deeper than 64 levels"), std::string::npos) << problem;
  EXPECT_EQ(problem.rfind("parameters.properties.p.properties.p", 0), 0u) << problem;

  json any = {{"type", "string"}};
  for (int i = 0; i < 100000; ++i) any = {{"anyOf", json::array({std::move(any)})}};
  EXPECT_NE(schema_problem(any).find("nested deeper"), std::string::npos);
  // Unchecked, it is still bounded.
  EXPECT_NE(schema_violation({{"x", 1}}, any).find("the schema is nested deeper than 64 levels"), std::string::npos);
}

// ---- schema_problem --------------------------------------------------------------------------------------------

TEST(Schema, GoodSchemasHaveNoProblem) {
  EXPECT_EQ(schema_problem(json::object()), "");
  EXPECT_EQ(
      schema_problem({{"type", "object"},
                      {"properties",
                       {{"a", {{"type", {"string", "null"}}, {"minLength", 1}}},
                        {"b", {{"type", "array"}, {"items", {{"type", "number"}}}, {"maxItems", 4}}},
                        {"c", {{"enum", {"x", "y"}}}},
                        {"d", {{"anyOf", json::array({{{"type", "integer"}, {"minimum", 0}}, {{"const", "auto"}}})}}},
                        {"e", true}}},
                      {"required", {"a"}},
                      {"additionalProperties", false}}),
      "");
}

TEST(Schema, BadSchemasAreNamed) {
  EXPECT_EQ(schema_problem("object"), "parameters: expected an object (a JSON schema), got \"object\"");
  EXPECT_EQ(schema_problem({{"type", "array"}}),
            "parameters.type: the arguments schema must have type \"object\", got \"array\"");
  EXPECT_EQ(schema_problem(with_property("bbox", {{"type", "float"}})),
            "parameters.properties.bbox.type: unknown type \"float\" (types: object, array, string, number, "
            "integer, boolean, null)");
  EXPECT_EQ(schema_problem(with_property("v", {{"type", {"string", 3}}})),
            "parameters.properties.v.type[1]: expected a type name (a string), got 3");
  EXPECT_EQ(schema_problem(with_property("v", {{"type", json::array()}})),
            "parameters.properties.v.type: expected at least one type name");
  EXPECT_EQ(schema_problem({{"type", "object"}, {"properties", json::array({"a", "b"})}}),
            "parameters.properties: expected an object (name -> schema), got an array");
  EXPECT_EQ(schema_problem({{"type", "object"}, {"properties", {{"a", 5}}}}),
            "parameters.properties.a: expected a schema (an object or a boolean), got 5");
  EXPECT_EQ(schema_problem({{"type", "object"}, {"required", "a"}}),
            "parameters.required: expected an array of property names, got \"a\"");
  EXPECT_EQ(schema_problem({{"type", "object"}, {"required", {"a", 1}}}),
            "parameters.required[1]: expected a property name (a string), got 1");
  EXPECT_EQ(schema_problem({{"type", "object"}, {"additionalProperties", "no"}}),
            "parameters.additionalProperties: expected a schema (an object or a boolean), got \"no\"");
  EXPECT_EQ(schema_problem(with_property("v", {{"items", json::array({{{"type", "string"}}})}})),
            "parameters.properties.v.items: the tuple form (an array of schemas) is not supported; give one "
            "schema for every item");
  EXPECT_EQ(schema_problem(with_property("v", {{"enum", json::array()}})),
            "parameters.properties.v.enum: expected a non-empty array of values, got an array");
  EXPECT_EQ(schema_problem(with_property("v", {{"minimum", "1"}})),
            "parameters.properties.v.minimum: expected a number, got \"1\"");
  EXPECT_EQ(schema_problem(with_property("v", {{"maxLength", -1}})),
            "parameters.properties.v.maxLength: expected a non-negative integer, got -1");
  EXPECT_EQ(schema_problem(with_property("v", {{"minItems", 1.5}})),
            "parameters.properties.v.minItems: expected a non-negative integer, got 1.5");
  EXPECT_EQ(schema_problem(with_property("v", {{"anyOf", json::array()}})),
            "parameters.properties.v.anyOf: expected a non-empty array of schemas, got an array");
  EXPECT_EQ(schema_problem(with_property("v", {{"anyOf", json::array({{{"type", "int"}}})}})),
            "parameters.properties.v.anyOf[0].type: unknown type \"int\" (types: object, array, string, number, "
            "integer, boolean, null)");
}

TEST(Schema, MalformedKeywordsInUncheckedSchemasDoNotThrow) {
  const json schema = {{"type", 5},   {"properties", "x"}, {"required", {1, "a"}}, {"items", 3},
                       {"enum", "x"}, {"minimum", "1"},    {"anyOf", "y"},         {"minLength", -3}};
  EXPECT_EQ(schema_violation(json::object(), schema), "arguments: missing required property \"a\"");
  EXPECT_EQ(schema_violation({1, 2}, schema), "");
}

}  // namespace
}  // namespace muse

#include "constrain/json_schema.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "util/error.h"

namespace muse::constrain {
namespace {
using nlohmann::json;

std::shared_ptr<const JsonSchema> compiled(const std::string& schema) {
  return std::make_shared<const JsonSchema>(JsonSchema::compile(json::parse(schema)));
}

// The whole text is one value of the schema.
bool accepts(const std::shared_ptr<const JsonSchema>& schema, const std::string& text) {
  JsonMatcher m(schema);
  return m.feed(text) && m.complete();
}

// The text can begin a value of the schema.
bool prefix_ok(const std::shared_ptr<const JsonSchema>& schema, const std::string& text) {
  JsonMatcher m(schema);
  return m.feed(text);
}

// Writes a random value by choosing, character by character, among the characters the matcher allows next —
// what the decoder does with tokens.
std::string random_value(const std::shared_ptr<const JsonSchema>& schema, std::mt19937& rng, size_t max_chars = 400) {
  const std::string alphabet = "{}[]\",:-0123456789.eE+abcdefghijklmnopqrstuvwxyz_ \\/";
  JsonMatcher m(schema);
  std::string out;
  while (!m.finished() && out.size() < max_chars) {
    std::vector<char> ok;
    for (char c : alphabet) {
      JsonMatcher copy = m;
      if (copy.feed(static_cast<unsigned char>(c))) ok.push_back(c);
    }
    // A whole number may end the text; stop there sometimes.
    if (m.complete() && (ok.empty() || rng() % 4 == 0)) break;
    if (ok.empty()) return out + "<stuck>";
    // Closing characters get more weight, so values end.
    std::vector<char> closing;
    for (char c : ok)
      if (c == '}' || c == ']' || c == '"') closing.push_back(c);
    const auto& pool = !closing.empty() && rng() % 3 == 0 ? closing : ok;
    const char c = pool[rng() % pool.size()];
    EXPECT_TRUE(m.feed(static_cast<unsigned char>(c)));
    out += c;
  }
  return out;
}

TEST(JsonSchema, ObjectsWithRequiredAndOptionalPropertiesInKeyOrder) {
  const auto s = compiled(R"({"type":"object","properties":{"age":{"type":"integer"},"name":{"type":"string"},
                              "tags":{"type":"array","items":{"type":"string"}}},"required":["name"]})");
  EXPECT_TRUE(accepts(s, R"({"name":"Ada"})"));
  EXPECT_TRUE(accepts(s, R"({"age":36,"name":"Ada","tags":["x","y"]})"));
  EXPECT_TRUE(accepts(s, R"({"age":-7,"name":""})"));
  EXPECT_FALSE(accepts(s, R"({})")) << "name is required";
  EXPECT_FALSE(accepts(s, R"({"age":36})"));
  EXPECT_FALSE(accepts(s, R"({"name":"Ada","age":36})")) << "keys come in the schema's order";
  EXPECT_FALSE(accepts(s, R"({"age":3.5,"name":"Ada"})")) << "age is an integer";
  EXPECT_FALSE(accepts(s, R"({"nick":"A","name":"Ada"})")) << "no undeclared keys";
  EXPECT_FALSE(accepts(s, R"({"age":01,"name":"Ada"})"));
  EXPECT_FALSE(prefix_ok(s, R"({ "name")")) << "compact: no whitespace outside strings";
  EXPECT_TRUE(prefix_ok(s, R"({"na)"));
  EXPECT_FALSE(prefix_ok(s, R"({"nb)"));
}

TEST(JsonSchema, StringsNumbersLiteralsAndEscapes) {
  const auto str = compiled(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_TRUE(accepts(str, R"("ab")"));
  EXPECT_TRUE(accepts(str, R"("a\n")"));
  EXPECT_TRUE(accepts(str, R"("\u00e9\"c")"));
  EXPECT_FALSE(accepts(str, R"("a")"));
  EXPECT_FALSE(accepts(str, R"("abcd")"));
  EXPECT_FALSE(prefix_ok(str, "\"a\x01"));
  EXPECT_FALSE(prefix_ok(str, R"("\q)"));
  EXPECT_TRUE(accepts(str, "\"h\xc3\xa9!\"")) << "a UTF-8 character counts once";

  const auto num = compiled(R"({"type":"number"})");
  for (const char* ok : {"0", "-0", "12", "3.25", "-1e5", "6.02E+23", "1e-3"}) EXPECT_TRUE(accepts(num, ok)) << ok;
  for (const char* bad : {"01", "-", "1.", ".5", "1e", "+1", "1.2.3", "123456789012345678", "1e100"})
    EXPECT_FALSE(accepts(num, bad)) << bad;
  JsonMatcher m(num);
  ASSERT_TRUE(m.feed("12"));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.finished()) << "a number may go on";

  const auto integer = compiled(R"({"type":"integer"})");
  EXPECT_TRUE(accepts(integer, "-42"));
  EXPECT_FALSE(accepts(integer, "4.2"));
  EXPECT_FALSE(accepts(integer, "4e2"));

  const auto choice = compiled(R"({"enum":["red","green",1,12,null,{"a":1}]})");
  for (const char* ok : {R"("red")", R"("green")", "1", "12", "null", R"({"a":1})"}) EXPECT_TRUE(accepts(choice, ok)) << ok;
  for (const char* bad : {R"("blue")", "2", "123", "true", R"({"a":2})"}) EXPECT_FALSE(accepts(choice, bad)) << bad;
  JsonMatcher red(choice);
  ASSERT_TRUE(red.feed("\"red\""));
  EXPECT_TRUE(red.finished()) << "nothing longer starts with \"red\"";

  const auto flag = compiled(R"({"type":"boolean"})");
  EXPECT_TRUE(accepts(flag, "true"));
  EXPECT_TRUE(accepts(flag, "false"));
  EXPECT_FALSE(accepts(flag, "null"));
  EXPECT_TRUE(accepts(compiled(R"({"const":"x"})"), R"("x")"));
}

TEST(JsonSchema, ArraysUnionsReferencesAndAnything) {
  const auto arr = compiled(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})");
  EXPECT_TRUE(accepts(arr, "[1]"));
  EXPECT_TRUE(accepts(arr, "[1,2]"));
  EXPECT_FALSE(accepts(arr, "[]"));
  EXPECT_FALSE(accepts(arr, "[1,2,3]"));
  EXPECT_FALSE(accepts(arr, "[1,]"));

  const auto maybe = compiled(R"({"anyOf":[{"type":"string"},{"type":"null"}]})");
  EXPECT_TRUE(accepts(maybe, R"("s")"));
  EXPECT_TRUE(accepts(maybe, "null"));
  EXPECT_FALSE(accepts(maybe, "1"));
  EXPECT_TRUE(accepts(compiled(R"({"type":["integer","null"]})"), "null"));

  // A tree by reference (pydantic writes $defs like this).
  const auto tree = compiled(R"({"$ref":"#/$defs/Node","$defs":{"Node":{"type":"object","properties":{
      "kids":{"type":"array","items":{"$ref":"#/$defs/Node"}},"v":{"type":"integer"}},"required":["v"]}}})");
  EXPECT_TRUE(accepts(tree, R"({"v":1})"));
  EXPECT_TRUE(accepts(tree, R"({"kids":[{"v":2},{"kids":[],"v":3}],"v":1})"));
  EXPECT_FALSE(accepts(tree, R"({"kids":[{}],"v":1})"));

  const auto any = std::make_shared<const JsonSchema>(JsonSchema::any_object());
  EXPECT_TRUE(accepts(any, R"({"a":[1,{"b":null}],"c":"d","e":true,"f":-1.5})"));
  EXPECT_TRUE(accepts(any, "{}"));
  EXPECT_FALSE(accepts(any, "[1]")) << "json_object mode writes an object";
  EXPECT_FALSE(accepts(any, R"({"a":tru})"));
  EXPECT_FALSE(accepts(any, R"({"a":1}})"));
  EXPECT_TRUE(accepts(compiled("true"), "[1,\"x\"]"));
  EXPECT_TRUE(accepts(compiled(R"({"type":"object","additionalProperties":{"type":"integer"}})"), R"({"x":1,"y":2})"));
  EXPECT_FALSE(accepts(compiled(R"({"type":"object","additionalProperties":{"type":"integer"}})"), R"({"x":"1"})"));
  EXPECT_TRUE(accepts(compiled(R"({"type":"object","additionalProperties":false})"), "{}"));
  EXPECT_FALSE(accepts(compiled(R"({"type":"object","additionalProperties":false})"), R"({"x":1})"));
}

TEST(JsonSchema, EveryValueWrittenCharacterByCharacterParsesAndFitsTheSchema) {
  const auto s = compiled(R"({"type":"object","properties":{
      "city":{"type":"string","maxLength":8},"days":{"type":"integer"},
      "unit":{"enum":["celsius","fahrenheit"]},"when":{"type":"array","items":{"type":"number"},"maxItems":3},
      "extra":{"anyOf":[{"type":"object","properties":{"k":{"type":"boolean"}},"required":["k"]},{"type":"null"}]}},
      "required":["city","unit"]})");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text = random_value(s, rng);
    json v;
    ASSERT_NO_THROW(v = json::parse(text)) << text;
    ASSERT_TRUE(v.is_object()) << text;
    ASSERT_TRUE(v.contains("city") && v["city"].is_string()) << text;
    const std::string city = v["city"].get<std::string>();
    EXPECT_LE(std::count_if(city.begin(), city.end(), [](char c) { return (c & 0xC0) != 0x80; }), 8) << text;
    ASSERT_TRUE(v.contains("unit")) << text;
    EXPECT_TRUE(v["unit"] == "celsius" || v["unit"] == "fahrenheit") << text;
    if (v.contains("days")) {
      EXPECT_TRUE(v["days"].is_number_integer()) << text;
    }
    if (v.contains("when")) {
      EXPECT_LE(v["when"].size(), 3u) << text;
    }
    if (v.contains("extra")) {
      EXPECT_TRUE(v["extra"].is_null() || v["extra"]["k"].is_boolean()) << text;
    }
    for (const auto& [key, value] : v.items())
      EXPECT_TRUE(key == "city" || key == "days" || key == "unit" || key == "when" || key == "extra") << key;
  }
}

TEST(JsonSchema, TheCloserIsTheCharacterThatEndsWhatIsBeingWritten) {
  const auto s = compiled(R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array",
      "items":{"type":"string"}},"c":{"type":"string"}},"required":["a"]})");
  auto closer_after = [&](const std::string& text) {
    JsonMatcher m(s);
    EXPECT_TRUE(m.feed(text)) << text;
    return m.closer();
  };
  EXPECT_EQ(closer_after(""), std::nullopt) << "the object must open first";
  EXPECT_EQ(closer_after("{"), std::nullopt) << "'a' is required";
  EXPECT_EQ(closer_after(R"({"a":93)"), '}') << "a whole number: close the object";
  EXPECT_EQ(closer_after(R"({"a":9,"b":["x)"), '"');
  EXPECT_EQ(closer_after(R"({"a":9,"b":["x")"), ']');
  EXPECT_EQ(closer_after(R"({"a":9,"b":[)"), ']');
  EXPECT_EQ(closer_after(R"({"a":9,"b":[],"c":")"), '"');
  EXPECT_EQ(closer_after(R"({"a":-)"), std::nullopt) << "a sign alone is no number";
  JsonMatcher m(s);
  ASSERT_TRUE(m.feed(R"({"a":1})"));
  EXPECT_EQ(m.closer(), std::nullopt) << "finished";
}

TEST(JsonSchema, UnsupportedOrBrokenSchemasAreRefusedWithTheirPath) {
  auto error_of = [](const std::string& schema) {
    try {
      JsonSchema::compile(json::parse(schema));
    } catch (const MuseError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(error_of(R"({"type":"object","properties":{"a":{"type":"string","pattern":"^x"}}})")
                .find("#/properties/a: the keyword 'pattern' is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"integer","minimum":3})").find("'minimum'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"strnig"})").find("unknown type 'strnig'"), std::string::npos);
  EXPECT_NE(error_of(R"({"type":"object","properties":{"a":{}},"required":["b"]})").find("'b' is required but not in properties"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"#/$defs/Missing"})").find("cannot resolve '#/$defs/Missing'"), std::string::npos);
  EXPECT_NE(error_of(R"({"$ref":"#"})").find("refers to itself"), std::string::npos);
  EXPECT_NE(error_of(R"({"anyOf":[{"type":"object"},{"type":"object","properties":{"a":{}}}]})").find("both begin with '{'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"type":"array","minItems":3,"maxItems":1})").find("maxItems 1 is below minItems 3"),
            std::string::npos);
  EXPECT_NE(error_of("false").find("allows no value"), std::string::npos);
  EXPECT_NE(error_of("[1]").find("a schema must be an object"), std::string::npos);
  // Annotations are fine.
  EXPECT_EQ(error_of(R"({"title":"T","description":"d","type":"object","properties":{"a":{"type":"string",
                        "format":"date","default":"x"}},"additionalProperties":false,"$schema":"x"})"),
            "(accepted)");
}

}  // namespace
}  // namespace muse::constrain

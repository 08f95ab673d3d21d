#include "tools/table_query.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tools/schema.h"

namespace muse {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;
using Header = std::vector<std::string>;

Table groceries() {
  return Table{
      {"item", "price", "qty"},
      {{"rice", "6", "2"}, {"Beans", "$4.20", "10"}, {"salt", "1.35", "-"}, {"tea", "-", "3"}, {"sugar", "12", "1"}}};
}

ToolContext with_tables(std::vector<Table> tables) {
  ToolContext context;
  for (Table& t : tables) context.tables.push_back(std::make_shared<const Table>(std::move(t)));
  return context;
}

ToolResult query(const json& arguments, const Table& table = groceries()) {
  return TableQuery().invoke(arguments, with_tables({table}));
}

// ---- the tool's face ---------------------------------------------------------------------------------------------

TEST(TableQuery, NameAndSchema) {
  TableQuery tool;
  EXPECT_EQ(tool.name(), "table_query");
  EXPECT_FALSE(tool.description().empty());
  EXPECT_EQ(schema_problem(tool.parameters()), "");
  EXPECT_EQ(schema_violation(json::object(), tool.parameters()), "");
}

TEST(TableQuery, NoArgumentsReturnsTheWholeTable) {
  const ToolResult r = query(json::object());
  ASSERT_TRUE(r.ok()) << r.text;
  ASSERT_TRUE(r.table);
  EXPECT_EQ(r.table->header, (Header{"item", "price", "qty"}));
  EXPECT_EQ(r.table->rows, groceries().rows);
  EXPECT_EQ(r.text, "item,price,qty\nrice,6,2\nBeans,$4.20,10\nsalt,1.35,-\ntea,-,3\nsugar,12,1");
  EXPECT_EQ(r.details["rows_matched"], 5);
  EXPECT_EQ(r.details["rows_returned"], 5);
}

// ---- where -------------------------------------------------------------------------------------------------------

TEST(TableQuery, FilterNumericWithCurrency) {
  const ToolResult r = query({{"where", {{{"column", "price"}, {"op", "<"}, {"value", 5}}}}, {"select", {"item"}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.table->rows, (Rows{{"Beans"}, {"salt"}}));  // "$4.20" is 4.20; the missing price never matches
  EXPECT_EQ(r.details["rows_matched"], 2);
}

TEST(TableQuery, EachNumericOperator) {
  const auto items = [](const char* op, const json& value) {
    const ToolResult r =
        query({{"where", {{{"column", "price"}, {"op", op}, {"value", value}}}}, {"select", {"item"}}});
    std::string out;
    if (r.table)
      for (const auto& row : r.table->rows) out += row[0] + " ";
    return r.ok() ? out : "error: " + r.text;
  };
  EXPECT_EQ(items("<=", 6), "rice Beans salt ");
  EXPECT_EQ(items(">", "6"), "sugar ");
  EXPECT_EQ(items(">=", "$6.00"), "rice sugar ");
  EXPECT_EQ(items("<", 1.35), "");
  EXPECT_EQ(items("=", "4.2"), "Beans ");  // numeric: "$4.20" = 4.2
  EXPECT_EQ(items("!=", 6), "Beans salt tea sugar ");
}

TEST(TableQuery, TextEqualityIgnoresCase) {
  const ToolResult r = query({{"where", {{{"column", "item"}, {"op", "="}, {"value", "beans"}}}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.table->rows, (Rows{{"Beans", "$4.20", "10"}}));
  const ToolResult none = query({{"where", {{{"column", "item"}, {"op", "="}, {"value", "bean"}}}}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.text, "no rows match");
  ASSERT_TRUE(none.table);
  EXPECT_TRUE(none.table->rows.empty());
  EXPECT_EQ(none.table->header, (Header{"item", "price", "qty"}));
}

TEST(TableQuery, ContainsAndSeveralConditions) {
  const ToolResult r = query({{"where", json::array({{{"column", "item"}, {"op", "contains"}, {"value", "S"}},
                                                     {{"column", "qty"}, {"op", ">"}, {"value", 0}}})},
                              {"select", {"item", "qty"}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.table->rows, (Rows{{"Beans", "10"}, {"sugar", "1"}}));  // salt's qty is missing
  EXPECT_EQ(r.text, "item,qty\nBeans,10\nsugar,1");
}

TEST(TableQuery, MissingCellsByEquality) {
  const ToolResult missing =
      query({{"where", {{{"column", "price"}, {"op", "="}, {"value", "-"}}}}, {"select", {"item"}}});
  ASSERT_TRUE(missing.ok()) << missing.text;
  EXPECT_EQ(missing.table->rows, (Rows{{"tea"}}));
  const ToolResult present =
      query({{"where", {{{"column", "qty"}, {"op", "!="}, {"value", "-"}}}}, {"select", {"item"}}});
  EXPECT_EQ(present.table->rows, (Rows{{"rice"}, {"Beans"}, {"tea"}, {"sugar"}}));
}

TEST(TableQuery, UnitsPercentAndCurrencyReadAsNumbers) {
  const Table t{{"name", "weight", "share", "cost"},
                {{"a", "4.20 kg", "12%", "€3"},
                 {"b", "10kg", "7.5 %", "£2.50"},
                 {"c", "2024-03-05", "n/a", "-$1"},
                 {"d", "1,200 kg", "5 to 10", "3 €"}}};
  const auto names = [&](const std::string& column, const char* op, const json& value) {
    const ToolResult r =
        query({{"where", {{{"column", column}, {"op", op}, {"value", value}}}}, {"select", {"name"}}}, t);
    std::string out;
    if (r.table)
      for (const auto& row : r.table->rows) out += row[0];
    return r.ok() ? out : "error: " + r.text;
  };
  EXPECT_EQ(names("weight", ">", 0), "ab");  // a date and a thousands separator are not numbers
  EXPECT_EQ(names("share", "<", 10), "b");
  EXPECT_EQ(names("share", ">=", "12%"), "a");
  EXPECT_EQ(names("cost", "<", 0), "c");
  EXPECT_EQ(names("cost", "=", 3), "ad");
  const ToolResult sum = query({{"aggregate", {{"op", "sum"}, {"column", "cost"}}}}, t);
  ASSERT_TRUE(sum.ok()) << sum.text;
  EXPECT_EQ(sum.text, "7.50");  // 3 + 2.50 - 1 + 3, no currency carried over
}

TEST(TableQuery, NumericComparisonNeedsANumberValue) {
  const ToolResult r = query({{"where", {{{"column", "price"}, {"op", ">"}, {"value", "cheap"}}}}});
  EXPECT_EQ(r.error, ToolError::InvalidInput);
  EXPECT_EQ(r.text, "arguments.where[0].value: \">\" compares numbers, and \"cheap\" is not a number");
}

// ---- sort and limit ------------------------------------------------------------------------------------------------

TEST(TableQuery, SortNumericAscAndDescMissingLast) {
  const ToolResult asc = query({{"sort", {{"column", "price"}}}, {"select", {"item"}}});
  ASSERT_TRUE(asc.ok()) << asc.text;
  EXPECT_EQ(asc.table->rows, (Rows{{"salt"}, {"Beans"}, {"rice"}, {"sugar"}, {"tea"}}));  // 12 after 6: numeric
  const ToolResult desc = query({{"sort", {{"column", "price"}, {"order", "desc"}}}, {"select", {"item"}}});
  EXPECT_EQ(desc.table->rows, (Rows{{"sugar"}, {"rice"}, {"Beans"}, {"salt"}, {"tea"}}));
}

TEST(TableQuery, SortTextIgnoresCase) {
  const ToolResult r = query({{"sort", {{"column", "item"}}}, {"select", {"item"}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.table->rows, (Rows{{"Beans"}, {"rice"}, {"salt"}, {"sugar"}, {"tea"}}));
  // One non-number makes the column text: "10" sorts before "9".
  const Table t{{"v"}, {{"9"}, {"10"}, {"x"}}};
  const ToolResult text = query({{"sort", {{"column", "v"}}}}, t);
  EXPECT_EQ(text.table->rows, (Rows{{"10"}, {"9"}, {"x"}}));
  const ToolResult numeric =
      query({{"sort", {{"column", "v"}}}, {"where", {{{"column", "v"}, {"op", "!="}, {"value", "x"}}}}}, t);
  EXPECT_EQ(numeric.table->rows, (Rows{{"9"}, {"10"}}));  // numeric among the rows being sorted
}

TEST(TableQuery, SortIsStable) {
  const Table t{{"k", "v"}, {{"a", "1"}, {"b", "2"}, {"c", "1"}, {"d", "2"}}};
  const ToolResult r = query({{"sort", {{"column", "v"}, {"order", "desc"}}}, {"select", {"k"}}}, t);
  EXPECT_EQ(r.table->rows, (Rows{{"b"}, {"d"}, {"a"}, {"c"}}));
}

TEST(TableQuery, LimitAfterSort) {
  const ToolResult r =
      query({{"sort", {{"column", "price"}, {"order", "desc"}}}, {"limit", 2}, {"select", {"item", "price"}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.table->rows, (Rows{{"sugar", "12"}, {"rice", "6"}}));
  EXPECT_EQ(r.details["rows_matched"], 5);
  EXPECT_EQ(r.details["rows_returned"], 2);
  EXPECT_TRUE(query({{"limit", 3.0}}).ok());  // an integral float is an integer
}

// ---- aggregates ----------------------------------------------------------------------------------------------------

std::string aggregate(const json& spec, const Table& table = groceries(), const json& extra = json::object()) {
  json arguments = extra;
  arguments["aggregate"] = spec;
  const ToolResult r = query(arguments, table);
  if (r.ok()) EXPECT_FALSE(r.table);
  return r.ok() ? r.text : std::string("error: ") + tool_error_name(r.error) + ": " + r.text;
}

TEST(TableQuery, Count) {
  EXPECT_EQ(aggregate({{"op", "count"}}), "5");
  EXPECT_EQ(aggregate({{"op", "count"}, {"column", "qty"}}), "4");  // the missing qty is not counted
  EXPECT_EQ(
      aggregate({{"op", "count"}}, groceries(), {{"where", {{{"column", "price"}, {"op", ">"}, {"value", 100}}}}}),
      "0");
}

TEST(TableQuery, SumIsExactDecimal) {
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "price"}}), "23.55");  // 6 + 4.20 + 1.35 + 12, tea skipped
  const Table t{{"x"}, {{"4.20"}, {"1.35"}}};
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "x"}}, t), "5.55");
  const Table pennies{{"x"}, {{"0.1"}, {"0.2"}, {"0.10"}}};
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "x"}}, pennies), "0.40");  // the most decimals among inputs
  const Table negative{{"x"}, {{"-1.5"}, {"0.25"}}};
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "x"}}, negative), "-1.25");
  const Table big{{"x"}, {{"999999999999999999.999999999999"}, {"0.000000000001"}}};
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "x"}}, big), "1000000000000000000.000000000000");
}

TEST(TableQuery, MinAndMaxPrintTheCellsNumber) {
  EXPECT_EQ(aggregate({{"op", "min"}, {"column", "price"}}), "1.35");
  EXPECT_EQ(aggregate({{"op", "max"}, {"column", "price"}}), "12");
  EXPECT_EQ(aggregate({{"op", "max"}, {"column", "price"}}, groceries(),
                      {{"where", {{{"column", "item"}, {"op", "contains"}, {"value", "bean"}}}}}),
            "4.20");  // as written, without the currency sign
}

TEST(TableQuery, Mean) {
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "price"}}), "5.8875");  // 23.55 / 4
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "qty"}}), "4");         // (2 + 10 + 3 + 1) / 4
  const Table thirds{{"x"}, {{"1"}, {"1"}, {"2"}}};
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "x"}}, thirds), "1.3333");
  const Table twothirds{{"x"}, {{"1"}, {"2"}, {"2"}}};
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "x"}}, twothirds), "1.6667");  // rounded half away from zero
  const Table negative{{"x"}, {{"-1"}, {"-2"}, {"-2"}}};
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "x"}}, negative), "-1.6667");
  const Table fine{{"x"}, {{"0.123456"}, {"0.123457"}}};
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "x"}}, fine), "0.123457");  // as many places as the inputs, past 4
}

TEST(TableQuery, AggregateAfterSortAndLimit) {
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "price"}}, groceries(),
                      {{"sort", {{"column", "price"}, {"order", "desc"}}}, {"limit", 2}}),
            "18");
}

TEST(TableQuery, AggregateSkipsMissingButRefusesText) {
  const Table t{{"item", "price"}, {{"a", "1"}, {"b", "-"}, {"c", "abc"}}};
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "price"}}, t),
            "error: invalid_input: column \"price\" row 3: \"abc\" is not a number");
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "price"}}, Table{{"price"}, {{"-"}, {"-"}}}), "0");
  EXPECT_EQ(aggregate({{"op", "mean"}, {"column", "price"}}, Table{{"price"}, {{"-"}, {"-"}}}),
            "error: invalid_input: column \"price\" is missing in all 2 matching rows, so there is no mean");
  EXPECT_EQ(aggregate({{"op", "max"}, {"column", "price"}}, groceries(),
                      {{"where", {{{"column", "item"}, {"op", "="}, {"value", "caviar"}}}}}),
            "error: invalid_input: no rows match, so there is no max of \"price\"");
  EXPECT_EQ(aggregate({{"op", "sum"}, {"column", "price"}}, Table{{"price"}, {{"1234567890123456789"}}}),
            "error: invalid_input: column \"price\" row 1: \"1234567890123456789\" has too many digits to add up "
            "exactly (at most 18 before the point and 12 after it)");
}

TEST(TableQuery, AggregateDetails) {
  const ToolResult r = query({{"aggregate", {{"op", "sum"}, {"column", "price"}}}});
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.details["rows_matched"], 5);
  EXPECT_EQ(r.details["values"], 4);
  EXPECT_EQ(r.details["aggregate"], "sum");
  EXPECT_EQ(r.details["column"], "price");
  EXPECT_EQ(r.details["value"], "23.55");
}

// ---- errors --------------------------------------------------------------------------------------------------------

TEST(TableQuery, MissingColumnAnywhere) {
  const std::string expected = "no column \"cost\" (columns: item, price, qty)";
  for (const json& arguments :
       {json{{"where", {{{"column", "cost"}, {"op", "="}, {"value", 1}}}}}, json{{"select", {"item", "cost"}}},
        json{{"sort", {{"column", "cost"}}}}, json{{"aggregate", {{"op", "sum"}, {"column", "cost"}}}},
        json{{"aggregate", {{"op", "count"}, {"column", "cost"}}}}}) {
    const ToolResult r = query(arguments);
    EXPECT_EQ(r.error, ToolError::InvalidInput) << arguments;
    EXPECT_EQ(r.text, expected) << arguments;
  }
  // Reported even when no row would have reached the condition.
  const ToolResult r = query({{"where", json::array({{{"column", "item"}, {"op", "="}, {"value", "none"}},
                                                     {{"column", "Price"}, {"op", ">"}, {"value", 1}}})}});
  EXPECT_EQ(r.text, "no column \"Price\" (columns: item, price, qty)");
}

TEST(TableQuery, WrongTypesAreBadArguments) {
  const auto error = [](const json& arguments) {
    const ToolResult r = query(arguments);
    return std::string(tool_error_name(r.error)) + ": " + r.text;
  };
  EXPECT_EQ(error({{"limit", "ten"}}), "bad_arguments: arguments.limit: expected an integer, got \"ten\"");
  EXPECT_EQ(error({{"limit", 0}}), "bad_arguments: arguments.limit: expected at least 1, got 0");
  EXPECT_EQ(error({{"limit", 1001}}), "bad_arguments: arguments.limit: expected at most 1000, got 1001");
  EXPECT_EQ(error({{"limit", 2.5}}), "bad_arguments: arguments.limit: expected an integer, got 2.5");
  EXPECT_EQ(error({{"where", {{{"column", "price"}, {"op", "=="}, {"value", 1}}}}}),
            "bad_arguments: arguments.where[0].op: expected one of \"=\", \"!=\", \"<\", \"<=\", \">\", \">=\", "
            "\"contains\", got \"==\"");
  EXPECT_EQ(error({{"where", {{{"column", "price"}, {"op", "="}}}}}),
            "bad_arguments: arguments.where[0]: missing required property \"value\"");
  EXPECT_EQ(error({{"where", {{{"column", "price"}, {"op", "="}, {"value", true}}}}}),
            "bad_arguments: arguments.where[0].value: expected a string or a number, got true");
  EXPECT_EQ(error({{"where", {{"column", "price"}}}}),
            "bad_arguments: arguments.where: expected an array, got an object");
  EXPECT_EQ(error({{"select", "item"}}), "bad_arguments: arguments.select: expected an array, got \"item\"");
  EXPECT_EQ(error({{"sort", {{"column", "price"}, {"order", "up"}}}}),
            "bad_arguments: arguments.sort.order: expected one of \"asc\", \"desc\", got \"up\"");
  EXPECT_EQ(error({{"aggregate", {{"op", "median"}, {"column", "price"}}}}),
            "bad_arguments: arguments.aggregate.op: expected one of \"count\", \"sum\", \"min\", \"max\", \"mean\", "
            "got \"median\"");
  EXPECT_EQ(error({{"aggregate", {{"op", "sum"}}}}), "bad_arguments: arguments.aggregate: \"sum\" needs a \"column\"");
  EXPECT_EQ(
      error({{"aggregate", {{"op", "count"}}}, {"select", {"item"}}}),
      "bad_arguments: arguments: \"select\" cannot be combined with \"aggregate\" (an aggregate returns one value)");
  EXPECT_EQ(error({{"select", {"item", "item"}}}), "bad_arguments: arguments.select[1]: \"item\" is selected twice");
  EXPECT_EQ(error({{"columns", {"item"}}}), "bad_arguments: arguments: unexpected property \"columns\"");
  EXPECT_EQ(error({{"table", -1}}), "bad_arguments: arguments.table: expected at least 0, got -1");
  EXPECT_EQ(error(json::array()), "bad_arguments: arguments: expected an object, got an array");
}

TEST(TableQuery, NoTableAttached) {
  const ToolResult r = TableQuery().invoke(json::object(), ToolContext{});
  EXPECT_EQ(r.error, ToolError::NoAttachment);
  EXPECT_EQ(r.text, "no table is attached to this conversation; table_query needs one");
}

TEST(TableQuery, TableIndex) {
  const ToolContext two = with_tables({groceries(), Table{{"x"}, {{"1"}, {"2"}}}});
  const ToolResult second = TableQuery().invoke({{"table", 1}, {"aggregate", {{"op", "count"}}}}, two);
  ASSERT_TRUE(second.ok()) << second.text;
  EXPECT_EQ(second.text, "2");
  const ToolResult out = TableQuery().invoke({{"table", 2}}, two);
  EXPECT_EQ(out.error, ToolError::InvalidInput);
  EXPECT_EQ(out.text, "table 2 is out of range: 2 tables are attached (tables 0-1)");
  const ToolResult one = query({{"table", 1}});
  EXPECT_EQ(one.error, ToolError::InvalidInput);
  EXPECT_EQ(one.text, "table 1 is out of range: 1 table is attached (table 0)");
  EXPECT_EQ(query({{"table", 1e300}}).error, ToolError::InvalidInput);  // integral, far out of range
}

TEST(TableQuery, ResultTooLarge) {
  Table big{{"n", "text"}, {}};
  for (int i = 0; i < 64; ++i) big.rows.push_back({std::to_string(i), std::string(30, 'x')});
  const ToolResult r = query(json::object(), big);
  EXPECT_EQ(r.error, ToolError::LimitExceeded);
  EXPECT_NE(r.text.find("over the limit of 1024: add a \"where\", \"select\" or \"limit\" to narrow it"),
            std::string::npos)
      << r.text;
  EXPECT_EQ(r.text.rfind("the result (64 rows x 2 columns) is ", 0), 0u) << r.text;
  EXPECT_TRUE(query({{"select", {"n"}}}, big).ok());
  EXPECT_TRUE(query({{"limit", 10}}, big).ok());
}

TEST(TableQuery, QueryTooLong) {
  ToolContext context = with_tables({groceries()});
  context.limits.max_input_chars = 40;
  const ToolResult r = TableQuery().invoke(
      {{"where", {{{"column", "item"}, {"op", "contains"}, {"value", std::string(50, 'a')}}}}}, context);
  EXPECT_EQ(r.error, ToolError::LimitExceeded);
  EXPECT_EQ(r.text.rfind("the query is ", 0), 0u) << r.text;
}

TEST(TableQuery, RaggedTablesBuiltInCodeDoNotCrash) {
  const Table ragged{{"a", "b"}, {{"1"}, {"2", "3"}}};
  const ToolResult r = query({{"aggregate", {{"op", "sum"}, {"column", "b"}}}}, ragged);
  ASSERT_TRUE(r.ok()) << r.text;
  EXPECT_EQ(r.text, "3");
  const ToolResult rows = query(json::object(), ragged);
  EXPECT_EQ(rows.text, "a,b\n1,-\n2,3");
}

}  // namespace
}  // namespace muse

#include "data/table.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../util/error_kind_of.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

using Rows = std::vector<std::vector<std::string>>;
using Header = std::vector<std::string>;

template <typename Load>
std::string error_of(Load load) {
  try {
    load();
  } catch (const MuseError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string csv_error(const std::string& text, const TableLimits& limits = {}) {
  return error_of([&] { parse_csv(text, "t.csv", limits); });
}

std::string json_error(const std::string& text, const TableLimits& limits = {}) {
  return error_of([&] { parse_json_table(text, "t.json", limits); });
}

// ---- CSV ----------------------------------------------------------------------------------------------------

TEST(TableCsv, ParsesHeaderAndRows) {
  const Table table = parse_csv("fruit,price\napple,3\npear,12\n", "t.csv");
  EXPECT_EQ(table.header, (Header{"fruit", "price"}));
  EXPECT_EQ(table.rows, (Rows{{"apple", "3"}, {"pear", "12"}}));
  EXPECT_EQ(table.columns(), 2u);
}

TEST(TableCsv, TrailingNewlineIsOptional) {
  const Table with = parse_csv("a,b\n1,2\n", "t.csv");
  const Table without = parse_csv("a,b\n1,2", "t.csv");
  EXPECT_EQ(with.rows, without.rows);
  EXPECT_EQ(with.rows, (Rows{{"1", "2"}}));
}

TEST(TableCsv, CrlfAndLfBothEndRecords) {
  const Table table = parse_csv("a,b\r\n1,2\n3,4\r\n", "t.csv");
  EXPECT_EQ(table.header, (Header{"a", "b"}));
  EXPECT_EQ(table.rows, (Rows{{"1", "2"}, {"3", "4"}}));
}

TEST(TableCsv, QuotedFieldsHoldSeparatorsDoubledQuotesAndNewlines) {
  const Table table = parse_csv(
      "name,note\r\n"
      "\"a,b\",\"say \"\"hi\"\"\"\r\n"
      "\"two\nlines\",\"crlf\r\ninside\"\n"
      "\"\",plain\n",
      "t.csv");
  EXPECT_EQ(table.rows, (Rows{{"a,b", "say \"hi\""}, {"two\nlines", "crlf\r\ninside"}, {"-", "plain"}}));
}

TEST(TableCsv, TrimsSpacesAroundFieldsMarksMissingCellsKeepsUtf8) {
  const Table table = parse_csv("a , b,c\n x , ,\xc3\xa9\xe2\x9c\x93\xf0\x9f\x8d\x8e\n,,\n", "t.csv");
  EXPECT_EQ(table.header, (Header{"a", "b", "c"}));
  EXPECT_EQ(table.rows, (Rows{{"x", "-", "\xc3\xa9\xe2\x9c\x93\xf0\x9f\x8d\x8e"}, {"-", "-", "-"}}));
  EXPECT_EQ(std::string(kMissingCell), "-");
  // Spaces inside quotes are kept; spaces around the quotes are not part of the field.
  const Table quoted = parse_csv("a,b\n  \" x \" ,\t\"\"\t\n", "t.csv");
  EXPECT_EQ(quoted.rows, (Rows{{" x ", "-"}}));
}

TEST(TableCsv, AsPeopleWriteIt) {
  const Table table = parse_csv(
      "name, price, weight, note, since\r\n"
      "\"Smith, J.\", $7, 4.20 kg, \"said \"\"ok\"\"\", 2024-03-05\r\n"
      "QX-17, -3, , , 2023-12-31\r\n"
      "\r\n",
      "t.csv");
  EXPECT_EQ(table.header, (Header{"name", "price", "weight", "note", "since"}));
  EXPECT_EQ(table.rows, (Rows{{"Smith, J.", "$7", "4.20 kg", "said \"ok\"", "2024-03-05"},
                              {"QX-17", "-3", "-", "-", "2023-12-31"}}));
}

TEST(TableCsv, HeaderOnlyIsATableWithoutRows) {
  const Table table = parse_csv("a,b\n", "t.csv");
  EXPECT_EQ(table.header, (Header{"a", "b"}));
  EXPECT_TRUE(table.rows.empty());
}

TEST(TableCsv, BlankLinesAreSkippedAQuotedEmptyFieldIsMissing) {
  const Table table = parse_csv("a\n\nx\n  \n\"\"\n\n\n", "t.csv");
  EXPECT_EQ(table.rows, (Rows{{"x"}, {"-"}}));
  const Table leading = parse_csv("\n\r\na,b\n1,2\n", "t.csv");
  EXPECT_EQ(leading.header, (Header{"a", "b"}));
  EXPECT_EQ(leading.rows, (Rows{{"1", "2"}}));
}

TEST(TableCsv, SkipsAByteOrderMark) {
  const Table table = parse_csv("\xEF\xBB\xBF" "a,b\n1,2\n", "t.csv");
  EXPECT_EQ(table.header, (Header{"a", "b"}));
}

TEST(TableCsv, RaggedRowsNameTheLine) {
  EXPECT_EQ(csv_error("a,b\n1,2\n3\n"), "t.csv: line 3: 1 field, expected 2 as in the header");
  EXPECT_EQ(csv_error("a,b\n1,2,3\n"), "t.csv: line 2: 3 fields, expected 2 as in the header");
  // A quoted line break does not end the record, but the physical line count goes on.
  EXPECT_EQ(csv_error("a,b\n\"x\ny\",1\n2\n"), "t.csv: line 4: 1 field, expected 2 as in the header");
  // A blank line is skipped, but the line count goes on.
  EXPECT_EQ(parse_csv("a,b\n1,2\n\n3,4\n", "t.csv").rows, (Rows{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(csv_error("a,b\n1,2\n\n3\n"), "t.csv: line 4: 1 field, expected 2 as in the header");
}

TEST(TableCsv, QuotingErrorsNameLineAndField) {
  EXPECT_EQ(csv_error("a,b\n1,\"open\n2,3\n"), "t.csv: line 2: field 2: unterminated quoted field");
  EXPECT_EQ(csv_error("a,b\n\"x\"y,1\n"),
            "t.csv: line 2: field 1: unexpected character after a closing quote (write a quote inside a quoted "
            "field as \"\")");
  EXPECT_EQ(csv_error("a,b\n1,x\"y\n"),
            "t.csv: line 2: field 2: quote inside an unquoted field (quote the whole field and double the quote)");
  EXPECT_EQ(csv_error("a,b\r1,2\n"), "t.csv: line 1: carriage return not followed by a line feed");
}

TEST(TableCsv, BadInputErrorsAreSpecific) {
  // Never a crash: each names the line, the field and what was expected.
  EXPECT_EQ(csv_error("name,price\n\"pear, 7\n"), "t.csv: line 2: field 1: unterminated quoted field");
  EXPECT_EQ(csv_error("name,price\npear,\"7\" kg\n"),
            "t.csv: line 2: field 2: unexpected character after a closing quote (write a quote inside a quoted "
            "field as \"\")");
  EXPECT_EQ(csv_error("name,price\r\npear,7,extra\r\n"), "t.csv: line 2: 3 fields, expected 2 as in the header");
  EXPECT_EQ(csv_error("name,price\npear,5'11\"\n"),
            "t.csv: line 2: field 2: quote inside an unquoted field (quote the whole field and double the quote)");
}

TEST(TableCsv, EmptyInputIsAnError) {
  EXPECT_EQ(csv_error(""), "t.csv: empty input, expected a header row");
  EXPECT_EQ(csv_error("\xEF\xBB\xBF"), "t.csv: empty input, expected a header row");
}

TEST(TableCsv, BlankAndDuplicateColumnNamesAreErrors) {
  EXPECT_EQ(csv_error("a,,c\n1,2,3\n"), "t.csv: line 1, column 2: blank column name");
  EXPECT_EQ(csv_error("a, \t,c\n"), "t.csv: line 1, column 2: blank column name");
  EXPECT_EQ(csv_error("\"\"\n1\n"), "t.csv: line 1, column 1: blank column name");
  EXPECT_EQ(csv_error("\n \n\r\n"), "t.csv: empty input, expected a header row");
  EXPECT_EQ(csv_error("a,b,a\n"), "t.csv: line 1, column 3: duplicate column name \"a\" (also column 1)");
}

TEST(TableCsv, LimitsNameWhatWasExceeded) {
  TableLimits limits;
  limits.max_rows = 2;
  limits.max_columns = 3;
  limits.max_cell_chars = 5;
  limits.max_file_bytes = 40;
  EXPECT_NO_THROW(parse_csv("a,b,c\n1,2,3\n4,5,6\n", "t.csv", limits));
  EXPECT_EQ(csv_error("a,b,c\n1,2,3\n4,5,6\n7,8,9\n", limits), "t.csv: line 4: more than the limit of 2 data rows");
  EXPECT_EQ(csv_error("a,b,c,d\n", limits), "t.csv: line 1: 4 columns exceeds the limit of 3 columns");
  EXPECT_EQ(csv_error("a,b\n1,toolong\n", limits),
            "t.csv: line 2, field 2 (\"b\"): cell of 7 bytes exceeds the limit of 5 bytes");
  EXPECT_EQ(csv_error("a,longname\n", limits),
            "t.csv: line 1, column 2: column name of 8 bytes exceeds the limit of 5 bytes");
  EXPECT_EQ(csv_error(std::string(41, 'a'), limits), "t.csv: input of 41 bytes exceeds the limit of 40 bytes");
  // Cell limits count bytes of UTF-8, and a quoted cell's line is where it starts.
  EXPECT_EQ(csv_error("a,b\n1,\"\xc3\xa9\xc3\xa9\xc3\xa9\"\n", limits),
            "t.csv: line 2, field 2 (\"b\"): cell of 6 bytes exceeds the limit of 5 bytes");
  EXPECT_EQ(csv_error("a,b\n1,\"\n\n\n123456\"\n", limits),
            "t.csv: line 2, field 2 (\"b\"): cell of 9 bytes exceeds the limit of 5 bytes");
}

TEST(TableCsv, DefaultLimitsMatchTheHeader) {
  const TableLimits limits;
  EXPECT_EQ(limits.max_file_bytes, 1u << 20);
  EXPECT_EQ(limits.max_rows, 64u);
  EXPECT_EQ(limits.max_columns, 16u);
  EXPECT_EQ(limits.max_cell_chars, 64u);
  std::string text = "a\n";
  for (int i = 0; i < 64; ++i) text += "x\n";
  EXPECT_EQ(parse_csv(text, "t.csv").rows.size(), 64u);
  EXPECT_EQ(csv_error(text + "x\n"), "t.csv: line 66: more than the limit of 64 data rows");
  EXPECT_NO_THROW(parse_csv("a\n" + std::string(64, 'x') + "\n", "t.csv"));
  EXPECT_EQ(csv_error("a\n" + std::string(65, 'x') + "\n"),
            "t.csv: line 2, field 1 (\"a\"): cell of 65 bytes exceeds the limit of 64 bytes");
}

TEST(TableCsv, InvalidUtf8IsRejectedWithItsLine) {
  EXPECT_EQ(csv_error("a,b\n1,\xff\n"), "t.csv: line 2: invalid UTF-8 (byte 0xFF)");
  EXPECT_EQ(csv_error("a,b\n1,2\n\xc0\xaf,3\n"), "t.csv: line 3: invalid UTF-8 (byte 0xC0)");   // overlong '/'
  EXPECT_EQ(csv_error("a,\xed\xa0\x80\n"), "t.csv: line 1: invalid UTF-8 (byte 0xED)");          // surrogate
  EXPECT_EQ(csv_error("a,\xf4\x90\x80\x80\n"), "t.csv: line 1: invalid UTF-8 (byte 0xF4)");      // > U+10FFFF
  EXPECT_EQ(csv_error("a,b\n1,\xe2\x9c"), "t.csv: line 2: invalid UTF-8 (byte 0xE2)");           // cut short
  EXPECT_EQ(csv_error("a,b\n1,\x80\n"), "t.csv: line 2: invalid UTF-8 (byte 0x80)");             // lone continuation
}

// ---- JSON ---------------------------------------------------------------------------------------------------

TEST(TableJson, ArrayOfRecordsUnitesKeysInFirstSeenOrder) {
  const Table table = parse_json_table(
      R"([{"name": "apple", "price": 3}, {"price": 7, "name": "pear", "note": "ripe"}, {"note": "x"}])", "t.json");
  EXPECT_EQ(table.header, (Header{"name", "price", "note"}));
  EXPECT_EQ(table.rows, (Rows{{"apple", "3", "-"}, {"pear", "7", "ripe"}, {"-", "-", "x"}}));
}

TEST(TableJson, ScalarsAsTextNestedAsCompactJson) {
  const Table table = parse_json_table(
      R"([{"s": "a\"b", "i": -12, "f": 2.5, "t": true, "n": null, "arr": [1, "x"], "obj": {"k": [ ]}}])", "t.json");
  EXPECT_EQ(table.header, (Header{"s", "i", "f", "t", "n", "arr", "obj"}));
  EXPECT_EQ(table.rows, (Rows{{"a\"b", "-12", "2.5", "true", "-", "[1,\"x\"]", "{\"k\":[]}"}}));
  EXPECT_EQ(parse_json_table(R"([{"s": "", "u": "4.20 kg"}])", "t.json").rows, (Rows{{"-", "4.20 kg"}}));
}

TEST(TableJson, ObjectIsKeyValueRows) {
  const Table table = parse_json_table(R"({"b": 1, "a": "two", "c": [3]})", "t.json");
  EXPECT_EQ(table.header, (Header{"key", "value"}));
  EXPECT_EQ(table.rows, (Rows{{"b", "1"}, {"a", "two"}, {"c", "[3]"}}));
  EXPECT_TRUE(parse_json_table("{}", "t.json").rows.empty());
}

TEST(TableJson, FromAJsonValueBuiltInCode) {
  nlohmann::json value = nlohmann::json::array();
  value.push_back({{"x", 1}, {"y", "a"}});
  value.push_back({{"y", "b"}});
  const Table table = table_from_json(value, "code");
  EXPECT_EQ(table.header, (Header{"x", "y"}));  // nlohmann::json orders each object's keys
  EXPECT_EQ(table.rows, (Rows{{"1", "a"}, {"-", "b"}}));
  EXPECT_EQ(error_of([] { table_from_json(nlohmann::json::array({{{"k", "\xff"}}}), "code"); }),
            "code: record 1, field \"k\": invalid UTF-8");
  EXPECT_EQ(error_of([] { table_from_json(nlohmann::json::array({{{"k", {"\xff"}}}}), "code"); }),
            "code: record 1, field \"k\": invalid UTF-8");
  EXPECT_EQ(error_of([] { table_from_json(nlohmann::json::array({{{"\xff", 1}}}), "code"); }),
            "code: record 1, key \"\\xFF\": invalid UTF-8 in a column name");
}

TEST(TableJson, ColumnsAndRowsObject) {
  const Table table = parse_json_table(R"({"columns": ["name", "price"], "rows": [["pear", "$7"], ["fig", null], ["kiwi", 3]]})",
                                       "t.json");
  EXPECT_EQ(table.header, (Header{"name", "price"}));
  EXPECT_EQ(table.rows, (Rows{{"pear", "$7"}, {"fig", "-"}, {"kiwi", "3"}}));
  EXPECT_EQ(json_error(R"({"columns": ["a", "b"], "rows": [["x"]]})"),
            "t.json: \"rows\" row 1: 1 value, expected 2 as in \"columns\"");
  EXPECT_EQ(json_error(R"({"columns": ["a", 2], "rows": []})"), "t.json: \"columns\" entry 2: expected a string, got number");
  EXPECT_EQ(json_error(R"({"columns": ["a"], "rows": [{"a": 1}]})"),
            "t.json: \"rows\" row 1: expected an array of values, got object");
  EXPECT_EQ(json_error(R"({"columns": [], "rows": []})"), "t.json: \"columns\": no columns");
  EXPECT_EQ(json_error(R"({"columns": ["a", "a"], "rows": []})"),
            "t.json: \"columns\" entry 2: duplicate column name \"a\" (also column 1)");
  // Any other object is still key/value rows.
  EXPECT_EQ(parse_json_table(R"({"columns": 1, "rows": 2})", "t.json").header, (Header{"key", "value"}));
}

TEST(TableJson, ShapeErrors) {
  EXPECT_EQ(json_error("42"), "t.json: expected an array of records or an object, got number");
  EXPECT_EQ(json_error("\"s\""), "t.json: expected an array of records or an object, got string");
  EXPECT_EQ(json_error("[]"), "t.json: empty array, expected at least one record");
  EXPECT_EQ(json_error(R"([{"a": 1}, [1]])"), "t.json: record 2: expected an object, got array");
  EXPECT_EQ(json_error("[{}, {}]"), "t.json: no columns: every record is empty");
  EXPECT_EQ(json_error(R"([{"a": 1, "": 2}])"), "t.json: record 1, key \"\": blank column name");
  EXPECT_EQ(json_error(R"([{"a": 1}, {" ": 2}])"), "t.json: record 2, key \" \": blank column name");
  EXPECT_EQ(json_error(""), "t.json: empty input, expected a JSON array of records or an object");
  EXPECT_EQ(json_error(" \n "), "t.json: empty input, expected a JSON array of records or an object");
}

TEST(TableJson, SyntaxErrorsNameLineAndColumn) {
  const std::string error = json_error("[{\"a\": 1},\n {\"a\": }]");
  EXPECT_EQ(error.rfind("t.json: invalid JSON at line 2, column ", 0), 0u) << error;
  EXPECT_EQ(json_error("[{\"a\": 1}"),
            "t.json: invalid JSON at line 1, column 10: syntax error while parsing array - unexpected end of input; "
            "expected ']'");
}

TEST(TableJson, Limits) {
  TableLimits limits;
  limits.max_rows = 2;
  limits.max_columns = 2;
  limits.max_cell_chars = 4;
  limits.max_file_bytes = 60;
  EXPECT_NO_THROW(parse_json_table(R"([{"a": 1, "b": 2}, {"a": 3}])", "t.json", limits));
  EXPECT_EQ(json_error(R"([{"a": 1}, {"a": 2}, {"a": 3}])", limits),
            "t.json: array of 3 records exceeds the limit of 2 rows");
  EXPECT_EQ(json_error(R"({"a": 1, "b": 2, "c": 3})", limits), "t.json: object of 3 entries exceeds the limit of 2 rows");
  EXPECT_EQ(json_error(R"([{"a": 1, "b": 2}, {"c": 3}])", limits),
            "t.json: record 2, key \"c\": column 3 exceeds the limit of 2 columns");
  EXPECT_EQ(json_error(R"([{"a": "12345"}])", limits),
            "t.json: record 1, field \"a\": cell of 5 bytes exceeds the limit of 4 bytes");
  EXPECT_EQ(json_error(R"([{"a": [1, 2, 3]}])", limits),
            "t.json: record 1, field \"a\": cell of 7 bytes exceeds the limit of 4 bytes");
  EXPECT_EQ(json_error(R"([{"abcde": 1}])", limits),
            "t.json: record 1, key \"abcde\": column name of 5 bytes exceeds the limit of 4 bytes");
  EXPECT_EQ(json_error(R"({"abcde": 1})", limits),
            "t.json: entry \"abcde\", key: cell of 5 bytes exceeds the limit of 4 bytes");
  EXPECT_EQ(json_error(R"({"a": "abcde"})", limits),
            "t.json: entry \"a\", value: cell of 5 bytes exceeds the limit of 4 bytes");
  EXPECT_EQ(json_error(std::string(61, ' '), limits), "t.json: input of 61 bytes exceeds the limit of 60 bytes");
}

TEST(TableJson, InvalidUtf8AndDeepNestingAreRejected) {
  EXPECT_EQ(json_error("[{\"a\": 1},\n{\"a\": \"\xff\"}]"), "t.json: line 2: invalid UTF-8 (byte 0xFF)");
  EXPECT_EQ(json_error(std::string(100, '[') + std::string(100, ']')), "t.json: line 1: nesting deeper than 64 levels");
  // Brackets inside strings do not nest.
  EXPECT_NO_THROW(parse_json_table("[{\"a\": \"" + std::string(60, '[') + "\"}]", "t.json"));
}

// ---- load_table, check_table, to_csv ------------------------------------------------------------------------

class TableFiles : public ::testing::Test {
 protected:
  std::string write_temp(const std::string& name, const std::string& contents) {
    const std::string path = ::testing::TempDir() + "muse_table_test_" + std::to_string(::getpid()) + "_" + name;
    std::ofstream(path, std::ios::binary) << contents;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const auto& path : paths_) std::filesystem::remove_all(path);
  }
  std::vector<std::string> paths_;
};
using TableLoad = TableFiles;

TEST_F(TableLoad, DispatchesOnTheExtension) {
  const Table csv = load_table(write_temp("a.csv", "x,y\n1,2\n"));
  EXPECT_EQ(csv.rows, (Rows{{"1", "2"}}));
  const Table json = load_table(write_temp("a.json", R"([{"x": 1, "y": 2}])"));
  EXPECT_EQ(json.rows, (Rows{{"1", "2"}}));
  const Table upper = load_table(write_temp("b.CSV", "x\n1\n"));
  EXPECT_EQ(upper.rows, (Rows{{"1"}}));
}

TEST_F(TableLoad, EveryErrorNamesThePath) {
  const std::string ragged = write_temp("ragged.csv", "x,y\n1\n");
  EXPECT_EQ(error_of([&] { load_table(ragged); }), ragged + ": line 2: 1 field, expected 2 as in the header");
  EXPECT_EQ(error_kind_of([&] { load_table(ragged); }), "invalid_request");  // malformed content
  const std::string bad_json = write_temp("bad.json", "[1]");
  EXPECT_EQ(error_of([&] { load_table(bad_json); }), bad_json + ": record 1: expected an object, got number");
  const std::string text = write_temp("table.txt", "x\n");
  EXPECT_EQ(error_of([&] { load_table(text); }), text + ": unknown table format \".txt\", expected a .csv or .json file");
  const std::string bare = write_temp("table", "x\n");
  EXPECT_EQ(error_of([&] { load_table(bare); }), bare + ": unknown table format, expected a .csv or .json file");
  const std::string missing = ::testing::TempDir() + "muse_table_test_missing_" + std::to_string(::getpid()) + ".csv";
  EXPECT_EQ(error_of([&] { load_table(missing); }), missing + ": cannot open file");
  EXPECT_EQ(error_kind_of([&] { load_table(missing); }), "not_found");
  const std::string directory = write_temp("dir.csv", "");
  std::filesystem::remove(directory);
  std::filesystem::create_directory(directory);
  EXPECT_EQ(error_of([&] { load_table(directory); }), directory + ": is a directory, expected a .csv file");
  TableLimits small;
  small.max_file_bytes = 8;
  const std::string big = write_temp("big.csv", "x\n1\n2\n3\n4\n");
  EXPECT_EQ(error_of([&] { load_table(big, small); }), big + ": file larger than the limit of 8 bytes");
  const std::string fits = write_temp("fits.csv", "x\n1\n2\n3\n");
  EXPECT_EQ(load_table(fits, small).rows.size(), 3u);
}

TEST(TableCheck, AcceptsWhatTheLoaderAccepts) {
  Table table{{"name", "qty"}, {{"apple", "3"}, {"pear", ""}}};
  EXPECT_NO_THROW(check_table(table, "built"));
  table.rows.push_back({"fig"});
  EXPECT_EQ(error_of([&] { check_table(table, "built"); }), "built: row 3: 1 cells, expected 2 as in the header");
}

TEST(TableCheck, NamesEveryBrokenRule) {
  EXPECT_EQ(error_of([] { check_table(Table{}, "t"); }), "t: header: no columns");
  EXPECT_EQ(error_of([] { check_table(Table{{"a", " "}, {}}, "t"); }), "t: header, column 2: blank column name");
  EXPECT_EQ(error_of([] { check_table(Table{{"a", "a"}, {}}, "t"); }),
            "t: header, column 2: duplicate column name \"a\" (also column 1)");
  EXPECT_EQ(error_of([] { check_table(Table{{"a"}, {{"\xc3"}}}, "t"); }), "t: row 1, field 1 (\"a\"): invalid UTF-8");
  TableLimits limits;
  limits.max_rows = 1;
  limits.max_columns = 1;
  limits.max_cell_chars = 2;
  EXPECT_EQ(error_of([&] { check_table(Table{{"a"}, {{"1"}, {"2"}}}, "t", limits); }),
            "t: 2 rows exceeds the limit of 1 rows");
  EXPECT_EQ(error_of([&] { check_table(Table{{"a", "b"}, {}}, "t", limits); }),
            "t: header: 2 columns exceeds the limit of 1 columns");
  EXPECT_EQ(error_of([&] { check_table(Table{{"a"}, {{"123"}}}, "t", limits); }),
            "t: row 1, field 1 (\"a\"): cell of 3 bytes exceeds the limit of 2 bytes");
}

TEST(TableToCsv, QuotesOnlyWhereNeededAndRoundTrips) {
  const Table plain{{"a", "b"}, {{"1", "x y"}, {"-", " "}}};
  EXPECT_EQ(to_csv(plain), "a,b\n1,x y\n-,\" \"\n");
  const Table tricky{{"na,me", "q\"uote", "\xEF\xBB\xBF" "bom"},
                     {{"a\nb", "c\r\nd", "\r"}, {"-", "\"\"", "\xc3\xa9"}, {",", "x", " y\t"}}};
  const std::string tricky_header = "\"na,me\",\"q\"\"uote\",\xEF\xBB\xBF" "bom\n";
  EXPECT_EQ(to_csv(tricky).substr(0, tricky_header.size()), tricky_header);
  for (const Table& table : {plain, tricky, Table{{"only"}, {{"-"}, {"x"}, {" "}}}, Table{{"h"}, {}}}) {
    const Table back = parse_csv(to_csv(table), "round");
    EXPECT_EQ(back.header, table.header);
    EXPECT_EQ(back.rows, table.rows);
  }
  // A byte order mark starting the first header name survives: it is quoted, so the parser keeps it.
  const Table bom_first{{"\xEF\xBB\xBF" "a"}, {{"1"}}};
  EXPECT_EQ(parse_csv(to_csv(bom_first), "round").header, bom_first.header);
  // An empty cell built in code comes back as the missing marker.
  EXPECT_EQ(parse_csv(to_csv(Table{{"a", "b"}, {{"", "1"}}}), "round").rows, (Rows{{"-", "1"}}));
  EXPECT_EQ(parse_csv(to_csv(Table{{"a"}, {{""}}}), "round").rows, (Rows{{"-"}}));
}

TEST(TableToCsv, RandomTablesRoundTrip) {
  Rng rng(11);
  const std::vector<std::string> pieces = {"a", "Z", " ", ",", "\"", "\n", "\r\n", "\r", "\xc3\xa9", "1", "\t"};
  const auto random_text = [&](bool nonblank) {
    std::string text;
    const int64_t length = rng.uniform_int(nonblank ? 1 : 0, 6);
    for (int64_t i = 0; i < length; ++i) text += pieces[static_cast<size_t>(rng.uniform_int(0, 10))];
    return text;
  };
  for (int trial = 0; trial < 500; ++trial) {
    Table table;
    const auto columns = static_cast<size_t>(rng.uniform_int(1, 4));
    for (size_t c = 0; c < columns; ++c) table.header.push_back("c" + std::to_string(c) + random_text(false));
    const int64_t rows = rng.uniform_int(0, 5);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<std::string> row;
      for (size_t c = 0; c < columns; ++c) row.push_back(random_text(false));
      table.rows.push_back(row);
    }
    ASSERT_NO_THROW(check_table(table, "random"));
    const Table back = parse_csv(to_csv(table), "round");
    ASSERT_EQ(back.header, table.header) << to_csv(table);
    Rows expected = table.rows;  // empty cells come back as the missing marker
    for (auto& row : expected)
      for (auto& cell : row)
        if (cell.empty()) cell = kMissingCell;
    ASSERT_EQ(back.rows, expected) << to_csv(table);
  }
}

// ---- Fuzz ---------------------------------------------------------------------------------------------------

// A few random edits: byte flips, deletions, insertions of structural characters, truncation.
std::string mutate(Rng& rng, std::string text) {
  static const std::vector<std::string> inserts = {"\"", ",", "\n", "\r\n", "\r", "{", "}", "[", "]", ":",
                                                   "\"\"", "\xff", "\xc3", "\\", "null", "1e999",
                                                   "x", "7", " "};
  const int64_t edits = rng.uniform_int(1, 4);
  for (int64_t e = 0; e < edits; ++e) {
    const auto at = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(text.size())));
    switch (rng.uniform_int(0, 4)) {
      case 0:  // flip a byte
        if (at < text.size()) text[at] = static_cast<char>(text[at] ^ (1 << rng.uniform_int(0, 7)));
        break;
      case 1:  // delete a run
        if (at < text.size()) text.erase(at, static_cast<size_t>(rng.uniform_int(1, 3)));
        break;
      case 2:
      case 3:  // insert something structural
        text.insert(at, inserts[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(inserts.size()) - 1))]);
        break;
      case 4:  // truncate
        text.resize(at);
        break;
    }
  }
  return text;
}

struct FuzzCounts {
  int loaded = 0, rejected = 0;
};

template <typename Parse>
void fuzz(const std::vector<std::string>& seeds, const std::string& kind, uint64_t seed, Parse parse, FuzzCounts& counts) {
  Rng rng(seed);
  TableLimits small;  // every other input runs under tight limits, so the limit errors are reached too
  small.max_rows = 3;
  small.max_columns = 6;
  small.max_cell_chars = 12;
  small.max_file_bytes = 160;
  for (int i = 0; i < 1500; ++i) {
    const std::string name = kind + "-fuzz-" + std::to_string(i);
    const std::string input = mutate(rng, seeds[static_cast<size_t>(i) % seeds.size()]);
    const TableLimits limits = i % 2 ? small : TableLimits{};
    try {
      const Table table = parse(input, name, limits);
      ++counts.loaded;
      EXPECT_NO_THROW(check_table(table, name, limits)) << input;
      for (const auto& row : table.rows) ASSERT_EQ(row.size(), table.columns()) << input;
      EXPECT_LE(table.rows.size(), limits.max_rows);
      EXPECT_GE(table.columns(), 1u);
      EXPECT_LE(table.columns(), limits.max_columns);
    } catch (const MuseError& e) {
      ++counts.rejected;
      EXPECT_EQ(std::string(e.what()).rfind(name + ": ", 0), 0u) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a MuseError: " << e.what() << " for " << input;
    }
  }
}

TEST(TableFuzz, MutatedCsvLoadsOrFailsNamingTheInput) {
  const std::vector<std::string> seeds = {
      "name,qty,note\napple,3,\"sweet, red\"\npear,7,\"say \"\"hi\"\"\"\n\"fig\",2,\"two\nlines\"\n",
      "a,b\r\n1,2\r\n3,4\r\n",
      "x\n1\n\n\"\"\n",
      "\xEF\xBB\xBF" "k,v\n\xc3\xa9,\xe2\x9c\x93\n",
  };
  FuzzCounts counts;
  fuzz(seeds, "csv", 1, parse_csv, counts);
  std::printf("csv fuzz: %d loaded, %d rejected\n", counts.loaded, counts.rejected);
  EXPECT_EQ(counts.loaded + counts.rejected, 1500);
  EXPECT_GT(counts.loaded, 50);
  EXPECT_GT(counts.rejected, 50);
}

TEST(TableFuzz, MutatedJsonLoadsOrFailsNamingTheInput) {
  const std::vector<std::string> seeds = {
      R"([{"name": "apple", "qty": 3, "tags": ["a", "b"]}, {"name": "pear", "qty": 7.5, "ok": true, "x": null}])",
      R"({"a": 1, "b": "two", "c": {"d": [1, 2]}})",
      "[{\"k\": \"\xc3\xa9\\n\\u00e9\"},\n {\"k\": \"\\\"q\\\"\"}]\n",
      R"([{"a":1},{"b":2},{"c":3}])",
  };
  FuzzCounts counts;
  fuzz(seeds, "json", 2, parse_json_table, counts);
  std::printf("json fuzz: %d loaded, %d rejected\n", counts.loaded, counts.rejected);
  EXPECT_EQ(counts.loaded + counts.rejected, 1500);
  EXPECT_GT(counts.loaded, 50);
  EXPECT_GT(counts.rejected, 50);
}

}  // namespace
}  // namespace muse

// Tables as a native segment: a header row and data rows of short text cells. Loaded from CSV (RFC 4180
// quoting), from a JSON array of records, from a JSON {"columns": [...], "rows": [[...], ...]} object, or from
// any other JSON object (one key/value row per entry). The renderer gives every cell token (row, col)
// coordinates so the model can attend along rows and columns. Cells are text, kept as written: "4.20 kg",
// "$7", "-3", "2024-03-05" stay exactly that (the model copies cells verbatim).
//
// Missing values: a data cell with no value — an empty CSV field (quoted "" included, or only spaces), a JSON
// null, a JSON "" or a key a record lacks — is stored and rendered as kMissingCell ("-"), the same marker the
// table task's training tables use for their missing cells. Header names are never missing (a blank one is
// an error).
//
// CSV as people write it: fields separated by commas, records by LF or CRLF, a trailing newline optional, a
// leading byte order mark skipped; quoted fields hold commas, line breaks and doubled quotes (""); spaces and
// tabs around a field (outside its quotes) are dropped; blank lines (nothing but spaces) are skipped. The first
// non-blank record is the header.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace muse {

// The text of a missing cell (see above).
inline constexpr const char* kMissingCell = "-";

struct Table {
  std::vector<std::string> header;             // column names
  std::vector<std::vector<std::string>> rows;  // each row has header.size() cells
  size_t columns() const { return header.size(); }
};

struct TableLimits {
  size_t max_file_bytes = 1u << 20;
  size_t max_rows = 64;        // data rows, header excluded
  size_t max_columns = 16;
  size_t max_cell_chars = 64;  // bytes of UTF-8 per cell (header names too)
};

// All throw MuseError("NAME: ...") naming the line/record/field and the limit or the expected shape:
// ragged rows, unterminated quotes, a quote inside an unquoted field, text after a closing quote, a lone
// carriage return, empty input, blank or duplicate column names, too many rows/columns, a cell too long,
// invalid UTF-8. Never anything but MuseError.
Table parse_csv(const std::string& text, const std::string& name, const TableLimits& limits = {});
// An array of objects (columns = union of keys in first-seen order; missing keys become kMissingCell), an
// object of exactly "columns" (an array of names) and "rows" (arrays of values, one per column), or any other
// object (columns "key", "value"). Scalars are written as text; nested values as compact JSON.
Table table_from_json(const nlohmann::json& value, const std::string& name, const TableLimits& limits = {});
Table parse_json_table(const std::string& text, const std::string& name, const TableLimits& limits = {});
// By extension: .csv, or .json; errors name the path.
Table load_table(const std::string& path, const TableLimits& limits = {});
// Checks a table built in code against the limits (tasks use it to stay within what the loader accepts).
void check_table(const Table& table, const std::string& name, const TableLimits& limits = {});

// CSV text of a table (quoting where needed); parse_csv(to_csv(t)) == t for a table without empty cells (an
// empty cell comes back as kMissingCell).
std::string to_csv(const Table& table);

}  // namespace muse

#include "data/table.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

constexpr size_t kMaxQuotedChars = 40;         // how much of a name or key an error message quotes
constexpr size_t kMaxParserMessageChars = 200;  // nlohmann's messages quote what they last read
constexpr size_t kMaxJsonDepth = 64;            // records are depth 2; deeper nesting only feeds recursion

// ---- UTF-8 and messages -----------------------------------------------------------------------------------

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if it is not one (overlong forms,
// surrogates and code points past U+10FFFF are rejected, as RFC 3629 requires).
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i);
  if (c < 0x80) return 1;
  size_t length;
  unsigned lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

// Offset of the first byte that does not start a well-formed UTF-8 sequence, if any.
std::optional<size_t> invalid_utf8_at(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0) return i;
    i += length;
  }
  return std::nullopt;
}

std::string hex_byte(unsigned char byte) {
  char buffer[5];
  std::snprintf(buffer, sizeof buffer, "0x%02X", byte);
  return buffer;
}

// `text` quoted for an error message: at most kMaxQuotedChars bytes, control characters and bytes that are not
// UTF-8 written as \xNN, so a message is always one printable line of valid UTF-8.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size() && i < kMaxQuotedChars) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t length = utf8_sequence_length(text, i);
    if (length <= 1 && (c < 0x20 || c == 0x7F || c >= 0x80 || c == '"' || c == '\\')) {
      char buffer[5];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", c);
      out += c == '"' ? "\\\"" : c == '\\' ? "\\\\" : buffer;
      ++i;
    } else {
      out.append(text, i, length);
      i += length;
    }
  }
  if (i < text.size()) out += "...";
  return out + "\"";
}

size_t line_of(const std::string& text, size_t offset) {
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::string limit_text(size_t value, size_t limit, const std::string& unit) {
  return to_string(value) + " " + unit + " exceeds the limit of " + to_string(limit) + " " + unit;
}

void check_input_size(const std::string& text, const std::string& name, const TableLimits& limits) {
  if (text.size() > limits.max_file_bytes)
    throw file_error(name, "input of " + limit_text(text.size(), limits.max_file_bytes, "bytes"));
}

void check_input_utf8(const std::string& text, const std::string& name) {
  if (const auto at = invalid_utf8_at(text))
    throw file_error(name, "line " + to_string(line_of(text, *at)) + ": invalid UTF-8 (byte " +
                               hex_byte(static_cast<unsigned char>(text[*at])) + ")");
}

// ---- Rules shared by every source ---------------------------------------------------------------------------

// `where` locates the cell ("line 3, field 2 (\"price\")"); checks its size and encoding.
void check_cell(const std::string& cell, const std::string& name, const std::string& where,
                const TableLimits& limits) {
  if (invalid_utf8_at(cell)) throw file_error(name, where + ": invalid UTF-8");
  if (cell.size() > limits.max_cell_chars)
    throw file_error(name, where + ": cell of " + limit_text(cell.size(), limits.max_cell_chars, "bytes"));
}

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
}

// A column name about to join `header`: not blank, not a duplicate, within the limits. `where` locates it.
void check_column_name(const std::vector<std::string>& header, const std::string& column, const std::string& name,
                       const std::string& where, const TableLimits& limits) {
  if (invalid_utf8_at(column)) throw file_error(name, where + ": invalid UTF-8 in a column name");
  if (is_blank(column)) throw file_error(name, where + ": blank column name");
  if (column.size() > limits.max_cell_chars)
    throw file_error(name, where + ": column name of " + limit_text(column.size(), limits.max_cell_chars, "bytes"));
  const auto same = std::find(header.begin(), header.end(), column);
  if (same != header.end())
    throw file_error(name, where + ": duplicate column name " + quoted(column) + " (also column " +
                               to_string(same - header.begin() + 1) + ")");
}

void check_column_count(size_t columns, const std::string& name, const std::string& where,
                        const TableLimits& limits) {
  if (columns == 0) throw file_error(name, where + ": no columns");
  if (columns > limits.max_columns)
    throw file_error(name, where + ": " + limit_text(columns, limits.max_columns, "columns"));
}

// "field 2 (\"price\")", naming the column when the header has one there.
std::string field_label(const std::vector<std::string>& header, size_t index) {
  std::string label = "field " + to_string(index + 1);
  if (index < header.size()) label += " (" + quoted(header[index]) + ")";
  return label;
}

// ---- CSV ----------------------------------------------------------------------------------------------------

class CsvParser {
 public:
  CsvParser(const std::string& text, const std::string& name, const TableLimits& limits)
      : text_(text), name_(name), limits_(limits) {}

  Table parse() {
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // a byte order mark is not part of the header
    Table table;
    bool have_header = false;
    while (pos_ < text_.size()) {
      const size_t record_line = line_;
      std::vector<std::string> record;
      std::vector<size_t> field_lines;
      const bool blank = read_record(record, field_lines);
      if (blank) continue;  // a blank line (nothing but spaces) is no record
      if (!have_header) {
        const std::string where = "line " + to_string(record_line);
        check_column_count(record.size(), name_, where, limits_);
        for (size_t c = 0; c < record.size(); ++c) {
          check_column_name(table.header, record[c], name_, where + ", column " + to_string(c + 1), limits_);
          table.header.push_back(std::move(record[c]));
        }
        have_header = true;
        continue;
      }
      if (record.size() != table.header.size())
        throw file_error(name_, "line " + to_string(record_line) + ": " + to_string(record.size()) + " field" +
                                    (record.size() == 1 ? "" : "s") + ", expected " +
                                    to_string(table.header.size()) + " as in the header");
      if (table.rows.size() == limits_.max_rows)
        throw file_error(name_, "line " + to_string(record_line) + ": more than the limit of " +
                                    to_string(limits_.max_rows) + " data rows");
      for (size_t c = 0; c < record.size(); ++c) {
        if (record[c].empty()) record[c] = kMissingCell;
        check_cell(record[c], name_, "line " + to_string(field_lines[c]) + ", " + field_label(table.header, c),
                   limits_);
      }
      table.rows.push_back(std::move(record));
    }
    if (!have_header) throw file_error(name_, "empty input, expected a header row");
    return table;
  }

 private:
  [[noreturn]] void fail(size_t line, const std::string& problem) const {
    throw file_error(name_, "line " + to_string(line) + ": " + problem);
  }

  // Reads fields up to and including the record's line break (or the end of the input). True when the record
  // is a blank line: one unquoted field of nothing but spaces.
  bool read_record(std::vector<std::string>& record, std::vector<size_t>& field_lines) {
    bool quoted_any = false;
    for (;;) {
      field_lines.push_back(line_);
      bool was_quoted = false;
      record.push_back(read_field(record.size(), was_quoted));
      quoted_any = quoted_any || was_quoted;
      if (pos_ == text_.size()) break;
      const char c = text_[pos_++];
      if (c == ',') continue;
      if (c == '\r') {
        if (pos_ == text_.size() || text_[pos_] != '\n') fail(line_, "carriage return not followed by a line feed");
        ++pos_;
      }
      ++line_;  // c was '\n', or '\r' of "\r\n"
      break;
    }
    return record.size() == 1 && !quoted_any && record[0].empty();
  }

  void skip_spaces() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  // One field, leaving pos_ at the separator or line break after it. Spaces and tabs around a field are not
  // part of it; inside quotes everything is.
  std::string read_field(size_t index, bool& was_quoted) {
    std::string field;
    const std::string label = "field " + to_string(index + 1);
    skip_spaces();
    if (pos_ < text_.size() && text_[pos_] == '"') {
      was_quoted = true;
      const size_t opened = line_;
      for (++pos_;; ++pos_) {
        if (pos_ == text_.size()) fail(opened, label + ": unterminated quoted field");
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
            field += '"';
            ++pos_;
            continue;
          }
          ++pos_;
          break;
        }
        if (c == '\n') ++line_;
        field += c;
      }
      skip_spaces();
      if (pos_ < text_.size() && !is_break(text_[pos_]))
        fail(line_, label + ": unexpected character after a closing quote (write a quote inside a quoted field as \"\")");
      return field;
    }
    for (; pos_ < text_.size() && !is_break(text_[pos_]); ++pos_) {
      if (text_[pos_] == '"') fail(line_, label + ": quote inside an unquoted field (quote the whole field and double the quote)");
      field += text_[pos_];
    }
    while (!field.empty() && (field.back() == ' ' || field.back() == '\t')) field.pop_back();
    return field;
  }

  static bool is_break(char c) { return c == ',' || c == '\n' || c == '\r'; }

  const std::string& text_;
  const std::string& name_;
  const TableLimits& limits_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

// ---- JSON ---------------------------------------------------------------------------------------------------

// A cell's text: strings as they are, null and "" as the missing cell, other scalars and nested values as
// compact JSON.
template <typename Json>
std::string cell_text(const Json& value, const std::string& name, const std::string& where) {
  if (value.is_string()) {
    std::string text = value.template get<std::string>();
    return text.empty() ? std::string(kMissingCell) : text;
  }
  if (value.is_null()) return kMissingCell;
  try {
    return value.dump();
  } catch (const nlohmann::json::exception&) {  // a string inside that is not UTF-8
    throw file_error(name, where + ": invalid UTF-8");
  }
}

// {"columns": ["a", "b"], "rows": [[1, 2], [3, null]]}: names, then rows of values in column order.
template <typename Json>
Table columnar_table(const Json& value, const std::string& name, const TableLimits& limits) {
  Table table;
  const Json& columns = value["columns"];
  const Json& rows = value["rows"];
  check_column_count(columns.size(), name, "\"columns\"", limits);
  for (size_t c = 0; c < columns.size(); ++c) {
    const std::string where = "\"columns\" entry " + to_string(c + 1);
    if (!columns[c].is_string()) throw file_error(name, where + ": expected a string, got " + columns[c].type_name());
    check_column_name(table.header, columns[c].template get<std::string>(), name, where, limits);
    table.header.push_back(columns[c].template get<std::string>());
  }
  if (rows.size() > limits.max_rows)
    throw file_error(name, "\"rows\" of " + to_string(rows.size()) + " rows exceeds the limit of " +
                               to_string(limits.max_rows) + " rows");
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::string where = "\"rows\" row " + to_string(r + 1);
    const Json& row = rows[r];
    if (!row.is_array()) throw file_error(name, where + ": expected an array of values, got " + row.type_name());
    if (row.size() != table.header.size())
      throw file_error(name, where + ": " + to_string(row.size()) + " value" + (row.size() == 1 ? "" : "s") +
                                 ", expected " + to_string(table.header.size()) + " as in \"columns\"");
    std::vector<std::string> cells;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string cell_where = where + ", " + field_label(table.header, c);
      cells.push_back(cell_text(row[c], name, cell_where));
      check_cell(cells.back(), name, cell_where, limits);
    }
    table.rows.push_back(std::move(cells));
  }
  return table;
}

template <typename Json>
Table table_from_json_value(const Json& value, const std::string& name, const TableLimits& limits) {
  Table table;
  if (value.is_object() && value.size() == 2 && value.contains("columns") && value.contains("rows") &&
      value["columns"].is_array() && value["rows"].is_array())
    return columnar_table(value, name, limits);
  if (value.is_object()) {
    if (value.size() > limits.max_rows)
      throw file_error(name, "object of " + to_string(value.size()) + " entries exceeds the limit of " +
                                 to_string(limits.max_rows) + " rows");
    table.header = {"key", "value"};
    check_column_count(table.header.size(), name, "object", limits);
    for (const auto& [key, entry] : value.items()) {
      const std::string where = "entry " + quoted(key);
      check_cell(key, name, where + ", key", limits);
      std::string cell = cell_text(entry, name, where);
      check_cell(cell, name, where + ", value", limits);
      table.rows.push_back({key, std::move(cell)});
    }
    return table;
  }
  if (!value.is_array())
    throw file_error(name, std::string("expected an array of records or an object, got ") + value.type_name());
  if (value.empty()) throw file_error(name, "empty array, expected at least one record");
  if (value.size() > limits.max_rows)
    throw file_error(name, "array of " + to_string(value.size()) + " records exceeds the limit of " +
                               to_string(limits.max_rows) + " rows");

  // Columns: the union of the records' keys in first-seen order.
  for (size_t r = 0; r < value.size(); ++r) {
    const std::string where = "record " + to_string(r + 1);
    const Json& record = value[r];
    if (!record.is_object()) throw file_error(name, where + ": expected an object, got " + record.type_name());
    for (const auto& [key, ignored] : record.items()) {
      (void)ignored;
      if (std::find(table.header.begin(), table.header.end(), key) != table.header.end()) continue;
      const std::string key_where = where + ", key " + quoted(key);
      check_column_name(table.header, key, name, key_where, limits);
      if (table.header.size() == limits.max_columns)
        throw file_error(name, key_where + ": column " + to_string(table.header.size() + 1) +
                                   " exceeds the limit of " + to_string(limits.max_columns) + " columns");
      table.header.push_back(key);
    }
  }
  if (table.header.empty()) throw file_error(name, "no columns: every record is empty");

  for (size_t r = 0; r < value.size(); ++r) {
    std::vector<std::string> row(table.header.size(), kMissingCell);
    for (const auto& [key, entry] : value[r].items()) {
      const size_t c = static_cast<size_t>(std::find(table.header.begin(), table.header.end(), key) - table.header.begin());
      const std::string where = "record " + to_string(r + 1) + ", field " + quoted(key);
      row[c] = cell_text(entry, name, where);
      check_cell(row[c], name, where, limits);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 5: ..." as "line 3, column 5: ...".
std::string parser_message(const nlohmann::json::exception& error) {
  std::string message = error.what();
  for (const std::string prefix : {"] ", "parse error at "}) {
    const size_t at = message.find(prefix);
    if (at != std::string::npos) message.erase(0, at + prefix.size());
  }
  if (message.size() > kMaxParserMessageChars) message = message.substr(0, kMaxParserMessageChars) + "...";
  return message;
}

// Arrays and objects nest at most kMaxJsonDepth deep (nlohmann parses iteratively, but dumping a nested cell
// recurses). Strings are skipped, escapes included.
void check_json_depth(const std::string& text, const std::string& name) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw file_error(name, "line " + to_string(line_of(text, i)) + ": nesting deeper than " +
                                   to_string(kMaxJsonDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

Table parse_csv(const std::string& text, const std::string& name, const TableLimits& limits) {
  check_input_size(text, name, limits);
  check_input_utf8(text, name);
  return CsvParser(text, name, limits).parse();
}

Table table_from_json(const nlohmann::json& value, const std::string& name, const TableLimits& limits) {
  return table_from_json_value(value, name, limits);
}

Table parse_json_table(const std::string& text, const std::string& name, const TableLimits& limits) {
  check_input_size(text, name, limits);
  check_input_utf8(text, name);
  if (is_blank(text)) throw file_error(name, "empty input, expected a JSON array of records or an object");
  check_json_depth(text, name);
  nlohmann::ordered_json value;  // keeps the file's key order, so columns come out as written
  try {
    value = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw file_error(name, "invalid JSON at " + parser_message(error));
  }
  return table_from_json_value(value, name, limits);
}

Table load_table(const std::string& path, const TableLimits& limits) {
  const std::string extension = lowercase(std::filesystem::path(path).extension().string());
  if (extension != ".csv" && extension != ".json")
    throw file_error(path, "unknown table format" + (extension.empty() ? std::string() : " " + quoted(extension)) +
                               ", expected a .csv or .json file");
  std::error_code ignored;  // a path that cannot be inspected fails to open just below, with a clearer message
  if (std::filesystem::is_directory(path, ignored))
    throw file_error(path, "is a directory, expected a " + extension + " file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code status_error;  // set when the path cannot be inspected (permissions): not a missing file
    const bool missing = !std::filesystem::exists(path, status_error) && !status_error;
    throw file_error(path, "cannot open file", missing ? ErrorKind::NotFound : ErrorKind::InvalidRequest);
  }
  // Reads at most one byte past the limit, so a huge (or endless) file is refused without reading it all.
  std::string text(limits.max_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw file_error(path, "read error");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > limits.max_file_bytes)
    throw file_error(path, "file larger than the limit of " + to_string(limits.max_file_bytes) + " bytes");
  return extension == ".csv" ? parse_csv(text, path, limits) : parse_json_table(text, path, limits);
}

void check_table(const Table& table, const std::string& name, const TableLimits& limits) {
  check_column_count(table.columns(), name, "header", limits);
  std::vector<std::string> seen;
  for (size_t c = 0; c < table.header.size(); ++c) {
    check_column_name(seen, table.header[c], name, "header, column " + to_string(c + 1), limits);
    seen.push_back(table.header[c]);
  }
  if (table.rows.size() > limits.max_rows)
    throw file_error(name, limit_text(table.rows.size(), limits.max_rows, "rows"));
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string where = "row " + to_string(r + 1);
    const auto& row = table.rows[r];
    if (row.size() != table.columns())
      throw file_error(name, where + ": " + to_string(row.size()) + " cells, expected " +
                                 to_string(table.columns()) + " as in the header");
    for (size_t c = 0; c < row.size(); ++c) check_cell(row[c], name, where + ", " + field_label(table.header, c), limits);
  }
}

std::string to_csv(const Table& table) {
  std::string out;
  const auto write_line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string& cell = cells[c];
      if (c) out += ',';
      // Quoted when it holds a separator, a quote or a line break; when it starts or ends with a space or tab
      // (the parser trims those around unquoted fields); when it is a lone empty cell (a bare empty line is
      // skipped as blank); or when it starts the file with a byte order mark (which the
      // parser would skip).
      const bool edge_space = !cell.empty() && (cell.front() == ' ' || cell.front() == '\t' || cell.back() == ' ' ||
                                                cell.back() == '\t');
      const bool quote = cell.find_first_of(",\"\r\n") != std::string::npos || (cell.empty() && cells.size() == 1) ||
                         edge_space ||
                         (out.empty() && cell.compare(0, 3, "\xEF\xBB\xBF") == 0);
      if (!quote) {
        out += cell;
        continue;
      }
      out += '"';
      for (char ch : cell) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      out += '"';
    }
    out += '\n';
  };
  write_line(table.header);
  for (const auto& row : table.rows) write_line(row);
  return out;
}

}  // namespace muse

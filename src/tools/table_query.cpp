#include "tools/table_query.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "tools/schema.h"

namespace muse {

namespace {

using nlohmann::json;

constexpr int kMaxIntegerDigits = 18;   // with kMaxFractionDigits: |units| < 10^30, so sums of up to ~10^8
constexpr int kMaxFractionDigits = 12;  // cells and any rescaling stay inside __int128 (checked anyway)
constexpr int kMeanDecimals = 4;        // a mean prints at least this many places (then trailing zeros go)
constexpr int kMaxLimit = 1000;
constexpr size_t kMaxListedColumns = 32;

// ---- Messages ------------------------------------------------------------------------------------------------


std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

ToolResult fail(ToolError error, std::string message) { return ToolResult::failure(error, std::move(message)); }

// Thrown inside invoke() to unwind to the one place that turns it into a result.
struct QueryError {
  ToolError error;
  std::string message;
};

[[noreturn]] void raise(ToolError error, std::string message) { throw QueryError{error, std::move(message)}; }

// ---- Exact decimals ------------------------------------------------------------------------------------------

using Int = __int128;

struct Decimal {
  Int units = 0;  // value = units / 10^scale
  int scale = 0;
};

enum class Read { Number, NotNumber, TooLong };

Int pow10(int n) {
  Int p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Digits (already split at the point) to a Decimal, within the exact-arithmetic bounds.
Read make_decimal(std::string integer, const std::string& fraction, bool negative, Decimal& out) {
  const size_t first = integer.find_first_not_of('0');
  integer = first == std::string::npos ? "" : integer.substr(first);
  if (integer.size() > static_cast<size_t>(kMaxIntegerDigits) ||
      fraction.size() > static_cast<size_t>(kMaxFractionDigits))
    return Read::TooLong;
  Int units = 0;
  for (char c : integer + fraction) units = units * 10 + (c - '0');
  out.units = negative ? -units : units;
  out.scale = static_cast<int>(fraction.size());
  return Read::Number;
}

size_t currency_length(const std::string& s, size_t i) {
  for (const char* sign : {"$", "\xE2\x82\xAC" /* € */, "\xC2\xA3" /* £ */}) {
    const std::string text(sign);
    if (s.compare(i, text.size(), text) == 0) return text.size();
  }
  return 0;
}

// A unit word starts with a letter, a non-ASCII character (°, µ, €...), % or $.
bool starts_unit_word(char c) {
  return is_ascii_letter(c) || static_cast<unsigned char>(c) >= 0x80 || c == '%' || c == '$';
}

// A cell by the rules in the header: [sign][currency][sign] digits[.digits] [unit words].
Read read_cell(const std::string& cell, Decimal& out) {
  size_t begin = 0, end = cell.size();
  while (begin < end && is_space(cell[begin])) ++begin;
  while (end > begin && is_space(cell[end - 1])) --end;
  const std::string s = cell.substr(begin, end - begin);
  size_t i = 0;
  bool negative = false, have_sign = false;
  const auto take_sign = [&] {
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      negative = s[i] == '-';
      have_sign = true;
      ++i;
    }
  };
  take_sign();
  if (const size_t currency = currency_length(s, i)) {
    i += currency;
    if (!have_sign) take_sign();
  }
  std::string integer, fraction;
  while (i < s.size() && is_digit(s[i])) integer += s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) fraction += s[i++];
  }
  if (integer.empty() && fraction.empty()) return Read::NotNumber;
  if (i < s.size()) {
    // 1e5 would otherwise read as 1 with the unit "e5".
    if ((s[i] == 'e' || s[i] == 'E') && i + 1 < s.size() &&
        (is_digit(s[i + 1]) || ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < s.size() && is_digit(s[i + 2]))))
      return Read::NotNumber;
    // Unit words: each starts with a unit character; a word starting with a digit ("4 kg 200 g", "5 to 10")
    // means the cell is more than one number with a unit.
    while (i < s.size()) {
      while (i < s.size() && is_space(s[i])) ++i;
      if (!starts_unit_word(s[i])) return Read::NotNumber;
      while (i < s.size() && !is_space(s[i])) ++i;
    }
  }
  return make_decimal(integer, fraction, negative, out);
}

// A JSON number by its shortest text ("4.2", "1e-05", "-0.0"), exponent applied.
Read read_json_number(const json& value, Decimal& out) {
  const std::string s = dump(value);
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && s[i] == '-') negative = true, ++i;
  std::string integer, fraction;
  while (i < s.size() && is_digit(s[i])) integer += s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) fraction += s[i++];
  }
  long exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool negative_exponent = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative_exponent = s[i++] == '-';
    while (i < s.size() && is_digit(s[i]) && exponent < 100000) exponent = exponent * 10 + (s[i++] - '0');
    if (negative_exponent) exponent = -exponent;
  }
  if (i != s.size() || (integer.empty() && fraction.empty())) return Read::NotNumber;
  if (std::labs(exponent) > kMaxIntegerDigits + kMaxFractionDigits + 400) return Read::TooLong;
  for (; exponent > 0; --exponent) {  // move digits from the fraction into the integer part
    integer += fraction.empty() ? '0' : fraction[0];
    if (!fraction.empty()) fraction.erase(0, 1);
  }
  for (; exponent < 0; ++exponent) {
    fraction.insert(0, 1, integer.empty() ? '0' : integer.back());
    if (!integer.empty()) integer.pop_back();
  }
  while (fraction.size() > static_cast<size_t>(kMaxFractionDigits) && fraction.back() == '0') fraction.pop_back();
  return make_decimal(integer, fraction, negative, out);
}

int compare(const Decimal& a, const Decimal& b) {
  const int scale = std::max(a.scale, b.scale);
  const Int x = a.units * pow10(scale - a.scale), y = b.units * pow10(scale - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

std::string format(Int units, int scale) {
  const bool negative = units < 0;
  std::string digits;
  for (Int u = negative ? -units : units; u > 0; u /= 10)
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  if (digits.size() <= static_cast<size_t>(scale))
    digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
  if (scale > 0) digits.insert(digits.size() - static_cast<size_t>(scale), ".");
  return (negative ? "-" : "") + digits;
}

// ---- Cells and columns ---------------------------------------------------------------------------------------

const std::string& cell_at(const Table& table, size_t row, size_t column) {
  static const std::string missing = kMissingCell;
  const auto& cells = table.rows[row];
  return column < cells.size() ? cells[column] : missing;  // tables built in code may be ragged
}

bool is_missing(const std::string& cell) {
  return cell == kMissingCell || std::all_of(cell.begin(), cell.end(), is_space);
}

std::string lower(const std::string& text) {
  std::string out = text;
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

size_t find_column(const Table& table, const std::string& name) {
  const auto it = std::find(table.header.begin(), table.header.end(), name);
  if (it != table.header.end()) return static_cast<size_t>(it - table.header.begin());
  std::string columns;
  for (size_t c = 0; c < table.header.size() && c < kMaxListedColumns; ++c)
    columns += (c ? ", " : "") + table.header[c];
  if (table.header.size() > kMaxListedColumns) columns += ", ...";
  raise(ToolError::InvalidInput, "no column " + quote_for_message(name) + " (columns: " + columns + ")");
}

// ---- Conditions ----------------------------------------------------------------------------------------------

enum class Op { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual, Contains };

struct Condition {
  size_t column;
  Op op;
  std::string text;               // the value as text (a number by its JSON text)
  std::optional<Decimal> number;  // the value as a number, when it reads as one
};

Op op_of(const std::string& name) {
  if (name == "=") return Op::Equal;
  if (name == "!=") return Op::NotEqual;
  if (name == "<") return Op::Less;
  if (name == "<=") return Op::LessEqual;
  if (name == ">") return Op::Greater;
  if (name == ">=") return Op::GreaterEqual;
  if (name == "contains") return Op::Contains;
  raise(ToolError::BadArguments, "unknown op " + quote_for_message(name));  // the schema refuses it first
}

bool is_numeric_op(Op op) {
  return op == Op::Less || op == Op::LessEqual || op == Op::Greater || op == Op::GreaterEqual;
}

bool holds(const Condition& condition, const std::string& cell) {
  if (condition.op == Op::Contains) return lower(cell).find(lower(condition.text)) != std::string::npos;
  Decimal number;
  const bool cell_is_number = read_cell(cell, number) == Read::Number;
  if (condition.op == Op::Equal || condition.op == Op::NotEqual) {
    const bool equal = cell_is_number && condition.number ? compare(number, *condition.number) == 0
                                                          : lower(cell) == lower(condition.text);
    return equal == (condition.op == Op::Equal);
  }
  if (!cell_is_number) return false;
  const int c = compare(number, *condition.number);
  switch (condition.op) {
    case Op::Less: return c < 0;
    case Op::LessEqual: return c <= 0;
    case Op::Greater: return c > 0;
    default: return c >= 0;
  }
}

// ---- Arguments -----------------------------------------------------------------------------------------------

// An integral JSON number (3 or 3.0; the schema has checked it) as a size, saturating far past any table.
size_t size_of(const json& value) {
  if (value.is_number_unsigned())
    return static_cast<size_t>(std::min<unsigned long long>(value.get<unsigned long long>(), 1ull << 40));
  if (value.is_number_integer())
    return static_cast<size_t>(std::clamp<long long>(value.get<long long>(), 0, 1ll << 40));
  return static_cast<size_t>(std::clamp(value.get<double>(), 0.0, static_cast<double>(1ull << 40)));
}

const json* member(const json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string plural(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

// ---- Aggregates ----------------------------------------------------------------------------------------------

ToolResult aggregate(const Table& table, const std::vector<size_t>& rows, const json& spec, size_t rows_matched) {
  const std::string op = spec.at("op").get<std::string>();
  const json* column_name = member(spec, "column");
  std::optional<size_t> column;
  if (column_name) column = find_column(table, column_name->get<std::string>());

  ToolResult result;
  result.details = {
      {"rows_matched", rows_matched}, {"aggregate", op}, {"column", column_name ? *column_name : json(nullptr)}};
  const auto finish = [&](std::string value, size_t values) {
    result.text = value;
    result.details["values"] = values;
    result.details["value"] = std::move(value);
    return result;
  };

  if (op == "count") {
    size_t count = rows.size();
    if (column)
      count = static_cast<size_t>(
          std::count_if(rows.begin(), rows.end(), [&](size_t r) { return !is_missing(cell_at(table, r, *column)); }));
    return finish(std::to_string(count), count);
  }

  const std::string& name = column_name->get_ref<const std::string&>();
  std::vector<Decimal> values;
  int scale = 0;
  for (size_t r : rows) {
    const std::string& cell = cell_at(table, r, *column);
    if (is_missing(cell)) continue;
    Decimal number;
    const Read read = read_cell(cell, number);
    const std::string where = "column " + quote_for_message(name) + " row " + std::to_string(r + 1) + ": " + quote_for_message(cell);
    if (read == Read::NotNumber) raise(ToolError::InvalidInput, where + " is not a number");
    if (read == Read::TooLong)
      raise(ToolError::InvalidInput, where + " has too many digits to add up exactly (at most " +
                                         std::to_string(kMaxIntegerDigits) + " before the point and " +
                                         std::to_string(kMaxFractionDigits) + " after it)");
    values.push_back(number);
    scale = std::max(scale, number.scale);
  }

  if (values.empty() && op != "sum") {
    if (rows.empty()) raise(ToolError::InvalidInput, "no rows match, so there is no " + op + " of " + quote_for_message(name));
    raise(ToolError::InvalidInput, "column " + quote_for_message(name) + " is missing in all " +
                                       plural(rows.size(), "matching row") + ", so there is no " + op);
  }
  const auto overflow = [&] {
    raise(ToolError::LimitExceeded, "the " + op + " of column " + quote_for_message(name) + " is too large to compute exactly");
  };

  if (op == "min" || op == "max") {
    const Decimal* best = &values[0];
    for (const Decimal& v : values) {
      const int c = compare(v, *best);
      if (op == "min" ? c < 0 : c > 0) best = &v;
    }
    return finish(format(best->units, best->scale), values.size());
  }

  Int sum = 0;
  for (const Decimal& v : values) {
    Int scaled;
    if (__builtin_mul_overflow(v.units, pow10(scale - v.scale), &scaled) || __builtin_add_overflow(sum, scaled, &sum))
      overflow();
  }
  if (op == "sum") return finish(format(sum, scale), values.size());

  // mean: round half away from zero at max(4, input decimals) places, then drop trailing zeros.
  const int places = std::max(kMeanDecimals, scale);
  Int numerator;
  if (__builtin_mul_overflow(sum, pow10(places - scale), &numerator)) overflow();
  const Int count = static_cast<Int>(values.size());
  Int quotient = numerator / count;
  const Int remainder = numerator % count;
  if (2 * (remainder < 0 ? -remainder : remainder) >= count) quotient += numerator < 0 ? -1 : 1;
  std::string text = format(quotient, places);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return finish(text, values.size());
}

// ---- The query -----------------------------------------------------------------------------------------------

ToolResult run_query(const json& arguments, const ToolContext& context, const json& schema) {
  if (std::string violation = schema_violation(arguments, schema, context.limits.max_nesting); !violation.empty())
    raise(ToolError::BadArguments, violation);
  if (const size_t size = dump(arguments).size(); size > context.limits.max_input_chars)
    raise(ToolError::LimitExceeded, "the query is " + std::to_string(size) + " characters, over the limit of " +
                                        std::to_string(context.limits.max_input_chars));

  const json* where = member(arguments, "where");
  const json* select = member(arguments, "select");
  const json* sort = member(arguments, "sort");
  const json* limit = member(arguments, "limit");
  const json* aggregate_spec = member(arguments, "aggregate");
  if (aggregate_spec && select)
    raise(ToolError::BadArguments,
          "arguments: \"select\" cannot be combined with \"aggregate\" (an aggregate returns one value)");
  if (aggregate_spec && !member(*aggregate_spec, "column") && aggregate_spec->at("op") != "count")
    raise(ToolError::BadArguments, "arguments.aggregate: " + dump(aggregate_spec->at("op")) + " needs a \"column\"");
  if (select) {
    for (size_t i = 0; i < select->size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if ((*select)[i] == (*select)[j])
          raise(ToolError::BadArguments,
                "arguments.select[" + std::to_string(i) + "]: " + dump((*select)[i]) + " is selected twice");
  }

  if (context.tables.empty())
    raise(ToolError::NoAttachment, "no table is attached to this conversation; table_query needs one");
  const size_t index = member(arguments, "table") ? size_of(arguments.at("table")) : 0;
  if (index >= context.tables.size())
    raise(ToolError::InvalidInput,
          "table " + std::to_string(index) + " is out of range: " +
              (context.tables.size() == 1 ? std::string("1 table is attached (table 0)")
                                          : std::to_string(context.tables.size()) + " tables are attached (tables 0-" +
                                                std::to_string(context.tables.size() - 1) + ")"));
  if (!context.tables[index]) raise(ToolError::NoAttachment, "table " + std::to_string(index) + " has no content");
  const Table& table = *context.tables[index];

  // Every name is resolved before any row is read, so a wrong column is reported however the rows fall.
  std::vector<Condition> conditions;
  if (where) {
    for (size_t i = 0; i < where->size(); ++i) {
      const json& spec = (*where)[i];
      Condition condition;
      condition.column = find_column(table, spec.at("column").get<std::string>());
      condition.op = op_of(spec.at("op").get<std::string>());
      const json& value = spec.at("value");
      Decimal number;
      const Read read =
          value.is_string() ? read_cell(value.get<std::string>(), number) : read_json_number(value, number);
      condition.text = value.is_string() ? value.get<std::string>() : dump(value);
      if (read == Read::Number) condition.number = number;
      if (is_numeric_op(condition.op) && !condition.number)
        raise(ToolError::InvalidInput, "arguments.where[" + std::to_string(i) + "].value: " + dump(spec.at("op")) +
                                           " compares numbers, and " + quote_for_message(condition.text) +
                                           (read == Read::TooLong ? " has too many digits" : " is not a number"));
      conditions.push_back(std::move(condition));
    }
  }
  std::optional<size_t> sort_column;
  if (sort) sort_column = find_column(table, sort->at("column").get<std::string>());
  std::vector<size_t> columns;
  if (select) {
    for (const json& name : *select) columns.push_back(find_column(table, name.get<std::string>()));
  } else {
    for (size_t c = 0; c < table.header.size(); ++c) columns.push_back(c);
  }

  std::vector<size_t> rows;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    bool keep = true;
    for (const Condition& condition : conditions) keep = keep && holds(condition, cell_at(table, r, condition.column));
    if (keep) rows.push_back(r);
  }
  const size_t rows_matched = rows.size();

  if (sort_column) {
    const bool descending = member(*sort, "order") && sort->at("order") == "desc";
    struct Key {
      bool missing;
      Decimal number;
      std::string text;
    };
    std::vector<Key> keys(table.rows.size());
    bool numeric = true;
    for (size_t r : rows) {
      const std::string& cell = cell_at(table, r, *sort_column);
      Key& key = keys[r];
      key.missing = is_missing(cell);
      if (key.missing) continue;
      key.text = lower(cell);
      numeric = numeric && read_cell(cell, key.number) == Read::Number;
    }
    std::stable_sort(rows.begin(), rows.end(), [&](size_t a, size_t b) {
      const Key &x = keys[a], &y = keys[b];
      if (x.missing || y.missing) return !x.missing && y.missing;  // missing last in either order
      const int c = numeric ? compare(x.number, y.number) : x.text.compare(y.text);
      return descending ? c > 0 : c < 0;
    });
  }
  if (limit) rows.resize(std::min(rows.size(), std::min<size_t>(size_of(*limit), kMaxLimit)));

  if (aggregate_spec) return aggregate(table, rows, *aggregate_spec, rows_matched);

  Table out;
  for (size_t c : columns) out.header.push_back(table.header[c]);
  for (size_t r : rows) {
    std::vector<std::string> cells;
    for (size_t c : columns) cells.push_back(cell_at(table, r, c));
    out.rows.push_back(std::move(cells));
  }
  ToolResult result;
  if (rows.empty()) {
    result.text = "no rows match";
  } else {
    result.text = to_csv(out);
    if (!result.text.empty() && result.text.back() == '\n') result.text.pop_back();  // one token less for the model
  }
  if (result.text.size() > context.limits.max_result_chars)
    raise(ToolError::LimitExceeded, "the result (" + plural(out.rows.size(), "row") + " x " +
                                        plural(out.header.size(), "column") + ") is " +
                                        std::to_string(result.text.size()) + " characters, over the limit of " +
                                        std::to_string(context.limits.max_result_chars) +
                                        ": add a \"where\", \"select\" or \"limit\" to narrow it");
  result.details = {{"rows_matched", rows_matched}, {"rows_returned", out.rows.size()}, {"columns", out.header}};
  result.table = std::move(out);
  return result;
}

}  // namespace

std::string TableQuery::description() const {
  return "Query a table attached to the conversation: filter rows (where), pick columns (select), sort, limit, "
         "or compute one value (aggregate: count, sum, min, max, mean). Cells like \"$4.20\", \"4.20 kg\" or "
         "\"12%\" read as numbers (currency and units ignored; no thousands separators); \"-\" is a missing cell. "
         "Returns the matching rows as CSV, or the aggregate value.";
}

json TableQuery::parameters() const {
  const json column = {{"type", "string"}, {"description", "a column name, exactly as in the table's header"}};
  return {
      {"type", "object"},
      {"properties",
       {{"table", {{"type", "integer"}, {"minimum", 0}, {"description", "which attached table, from 0 (default 0)"}}},
        {"where",
         {{"type", "array"},
          {"description", "conditions a row must all meet (default: every row)"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"column", column},
              {"op",
               {{"type", "string"},
                {"enum", {"=", "!=", "<", "<=", ">", ">=", "contains"}},
                {"description",
                 "< <= > >= compare numbers (a non-numeric or missing cell never matches); = and != compare "
                 "numbers when both sides are numbers, else text ignoring case; contains: the cell text holds "
                 "the value, ignoring case"}}},
              {"value",
               {{"type", json::array({"string", "number"})},
                {"description", "what the cell is compared with; \"-\" with = matches missing cells"}}}}},
            {"required", {"column", "op", "value"}},
            {"additionalProperties", false}}}}},
        {"select",
         {{"type", "array"},
          {"items", column},
          {"minItems", 1},
          {"description", "the columns of the result, in this order (default: all); not with aggregate"}}},
        {"sort",
         {{"type", "object"},
          {"properties",
           {{"column", column},
            {"order", {{"type", "string"}, {"enum", {"asc", "desc"}}, {"description", "default asc"}}}}},
          {"required", {"column"}},
          {"additionalProperties", false},
          {"description", "numeric when every non-missing cell is a number, else by text; missing cells go last"}}},
        {"limit",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", kMaxLimit},
          {"description", "keep only the first N rows (after where and sort)"}}},
        {"aggregate",
         {{"type", "object"},
          {"properties",
           {{"op", {{"type", "string"}, {"enum", {"count", "sum", "min", "max", "mean"}}}},
            {"column",
             {{"type", "string"},
              {"description", "needed for sum, min, max, mean; with count, counts non-missing cells"}}}}},
          {"required", {"op"}},
          {"additionalProperties", false},
          {"description",
           "reduce the rows to one value; missing cells are skipped; exact decimals, units not carried over"}}}}},
      {"additionalProperties", false},
  };
}

ToolResult TableQuery::invoke(const json& arguments, const ToolContext& context) const {
  try {
    return run_query(arguments, context, parameters());
  } catch (const QueryError& e) {
    return fail(e.error, e.message);
  } catch (const std::exception& e) {  // allocation, or a json access the checks above should make impossible
    return fail(ToolError::InvalidInput, std::string("table_query failed: ") + e.what());
  } catch (...) {
    return fail(ToolError::InvalidInput, "table_query failed");
  }
}

}  // namespace muse

// table_query: a small structured query over a table attached to the request. The query is a JSON object,
// never SQL text handed to a database, so nothing the model writes can do more than filter, sort and count.
//
//   {"table": 0,                                                   optional, 0-based attachment index (default 0)
//    "where": [{"column": "price", "op": "<", "value": 5},         optional, all conditions must hold
//              {"column": "item", "op": "contains", "value": "ri"}],
//    "sort": {"column": "price", "order": "desc"},                 optional, order "asc" (default) or "desc"
//    "limit": 3,                                                   optional, 1..1000
//    "select": ["item", "price"]}                                  optional, default every column
//   {"where": [...], "aggregate": {"op": "sum", "column": "price"}}   a single value instead of rows
//
// Evaluation order: where filters the rows, sort orders them (stable: ties keep table order), limit keeps the
// first N, then select picks the columns of the result table, or aggregate reduces the rows to one value
// ("select" with "aggregate" is refused as ambiguous; sort + limit + aggregate is "the mean of the 3 highest").
//
// Numbers in cells. A cell reads as a number when, after trimming spaces, it is: an optional sign, an optional
// currency sign ($ € £, before or after the sign: "-$5", "$-5"), digits with an optional decimal point ("12",
// "4.20", ".5"), then optionally a unit: spaces and words starting with a letter, a non-ASCII character or %
// ("4.20 kg", "12%", "30 km/h", "21 °C", "5 €"), which is ignored. Not numbers: thousands separators ("1,200"),
// scientific notation ("1e5"), dates ("2024-03-05"), ranges ("5-10"), a unit before digits, kMissingCell "-",
// and numbers of more than 18 digits before the point or 12 after it (too long for exact arithmetic).
//
// Conditions ("value" is a string or a number; a string value reads by the cell rules, so "$5" is 5):
//   < <= > >=    numeric: a cell that is not a number (a missing "-" included) never matches; a value that is
//                not a number is InvalidInput.
//   = !=         numeric when the cell and the value both read as numbers ("6 kg" = 6, "$6" = "6.00"), else
//                exact text ignoring ASCII case ("Rice" = "rice"). != is exactly "not =", so {"op": "=",
//                "value": "-"} selects the rows whose cell is missing and "!=" "-" those that have one.
//   contains     the cell text holds the value text, ignoring ASCII case (a number value by its JSON text).
// Non-ASCII letters always compare exactly.
//
// sort is numeric when every non-missing cell of the column reads as a number, else by text ignoring ASCII
// case; missing cells go last in either order.
//
// aggregate ops: count (the rows; with a "column", the rows whose cell in it is not missing), sum, min, max,
// mean. sum/min/max/mean read the column's cells as numbers, skip missing cells, and refuse any other
// non-number (InvalidInput: `column "price" row 3: "abc" is not a number`, rows counted from 1 as in the
// table). Arithmetic is exact decimal: sum prints with the most decimals among its inputs ("4.20" + "1.3" ->
// "5.50"); min/max print the chosen cell's number as written ("4.20"); mean rounds half away from zero to
// max(4, the most input decimals) places, then drops trailing zeros ("2.75", "1.3333", "3"). Units and currency
// signs are not carried into the result ("$4.20" + "$1.35" -> "5.55"). A sum of no cells is "0"; min/max/mean
// of no cells is InvalidInput.
//
// Missing cells are kMissingCell "-" (and, in a table built in code, a blank cell or one a short row lacks).
//
// Result: rows as ToolResult.table (header = the selected columns) and as CSV text (to_csv without its final
// newline), or "no rows match" when none do (the table is then set, with no rows); an aggregate as text only.
// details: {"rows_matched": rows passing where, "rows_returned", "columns"}, or for an aggregate
// {"rows_matched", "aggregate", "column", "values": cells used, "value"}. A text longer than
// limits.max_result_chars is refused (LimitExceeded) with advice to narrow the query.
//
// Errors: arguments failing parameters() (unknown op, "limit": "ten", extra members) and a missing "column"
// for sum/min/max/mean or a column selected twice -> BadArguments; the serialised arguments over
// limits.max_input_chars -> LimitExceeded; no table attached -> NoAttachment; a table index past the
// attachments or a column the table lacks (`no column "cost" (columns: item, price, qty)`) -> InvalidInput.
// Column names match exactly (case included). invoke() never throws.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "tools/tool.h"

namespace muse {

class TableQuery : public Tool {
 public:
  std::string name() const override { return "table_query"; }
  std::string description() const override;
  nlohmann::json parameters() const override;
  ToolResult invoke(const nlohmann::json& arguments, const ToolContext& context) const override;
};

}  // namespace muse

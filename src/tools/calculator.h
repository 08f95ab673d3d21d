// The built-in `calculator` tool: exact arithmetic on big integers and fractions, by its own parser and
// evaluator (no code is ever executed).
//
//   ToolResult r = evaluate_expression("1/3 + 0.25");
//   r.text == "7/12", r.details == {"value": "7/12", "integer": false, "decimal": "0.583333333333"}
//
// Grammar (whitespace allowed between any two tokens):
//   expression := term (('+' | '-' | '−') term)*
//   term       := signed (('*' | '/' | '×' | '÷' | 'x') signed)*
//   signed     := ('-' | '−' | '+') signed | power
//   power      := primary (('^' | '**') signed)?          right-associative: 2^3^2 = 2^9
//   primary    := number | '(' expression ')'
//   number     := digits | digits '.' digits | '.' digits  3.25 is exactly 13/4
// Power binds tighter than unary minus (-2^2 = -4) and its exponent may be signed (2^-2 = 1/4). The exponent
// must be an integer; 0^0 = 1. Digit group separators (1,000 or 1_000), exponent notation (1e5) and hex are
// refused with a message saying so, as is 'x' anywhere but between two operands.
//
// Results: an integer as its decimal digits ("-12"); anything else as a reduced fraction "p/q" with q > 1
// ("-7/2"). details = {"value": text, "integer": bool} plus, for fractions, "decimal": the value rounded to 12
// significant digits ("0.333333333333", "1.23456789012e-30"), computed exactly from the fraction.
//
// Errors (ToolLimits from the context): input longer than max_input_chars, parentheses nested deeper than
// max_nesting or a run of more than max_nesting unary signs, |exponent| > max_exponent, and any intermediate
// numerator or denominator (after reduction) over max_result_digits decimal digits, and a result text longer
// than max_result_chars are LimitExceeded — a power is estimated from its base's size before it is computed, so
// 10^10^10 costs nothing. Syntax errors and division
// by zero are InvalidInput; the message names what was expected and the 1-based character position, e.g.
// "expected a number or '(' at position 4, found ')'". The parser keeps explicit stacks (shunting-yard), so
// deep nesting is refused by the bound, never by the machine stack; every call is bounded in time.
#pragma once
#include <string>

#include "tools/tool.h"

namespace muse {

// The whole tool without the JSON wrapping: never throws.
ToolResult evaluate_expression(const std::string& expression, const ToolLimits& limits = {});

class Calculator : public Tool {
 public:
  std::string name() const override { return "calculator"; }
  std::string description() const override;
  nlohmann::json parameters() const override;
  // {"expression": "..."}; a missing or non-string expression (or any other argument) is BadArguments.
  ToolResult invoke(const nlohmann::json& arguments, const ToolContext& context) const override;
};

}  // namespace muse

// The calculator: a shunting-yard parser to reverse Polish notation, then an evaluator on exact rationals of
// big integers. Parsing finishes before anything is computed, so a syntax error is reported even when an
// earlier part would divide by zero or overflow the limits. Grammar, limits and result formats: calculator.h.
#include "tools/calculator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "tools/exact_number.h"

namespace muse {
namespace {

using namespace exact;  // tools/exact_number.h: BigInt, Rational, magnitudes

// ---- Parsing -----------------------------------------------------------------------------------------------

// Thrown inside and turned into a ToolResult at the boundary (evaluate_expression).
struct CalculatorFailure {
  ToolError error;
  std::string message;
};

[[noreturn]] void fail(ToolError error, std::string message) { throw CalculatorFailure{error, std::move(message)}; }

// 1-based position in characters (UTF-8 code points), as the model counts them.
size_t character_position(const std::string& text, size_t byte_offset) {
  size_t position = 1;
  for (size_t i = 0; i < byte_offset && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++position;
  }
  return position;
}

// Length of the valid UTF-8 sequence at offset (what nlohmann::json can serialise), or 0 when it is not one.
size_t utf8_sequence_length(const std::string& text, size_t offset) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[offset + i]); };
  const unsigned char lead = byte(0);
  size_t length;
  uint32_t code_point;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) length = 2, code_point = lead & 0x1F;
  else if ((lead & 0xF0) == 0xE0) length = 3, code_point = lead & 0x0F;
  else if ((lead & 0xF8) == 0xF0) length = 4, code_point = lead & 0x07;
  else return 0;
  if (offset + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3F);
  }
  static const uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallest[length] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// "found '='", "found the end", "found a control character": what stood where something else was expected.
std::string describe_found(const std::string& text, size_t offset) {
  if (offset >= text.size()) return "found the end of the expression";
  const unsigned char c = static_cast<unsigned char>(text[offset]);
  if (c < 0x20 || c == 0x7F) return "found a control character";
  const size_t length = utf8_sequence_length(text, offset);
  if (length == 0) return "found a byte that is not UTF-8";
  return "found '" + text.substr(offset, length) + "'";
}

std::string at(const std::string& text, size_t offset) {
  return "at position " + std::to_string(character_position(text, offset));
}

enum class Operation : uint8_t { Number, Add, Subtract, Multiply, Divide, Power, Negate, OpenParen };

int precedence(Operation op) {
  switch (op) {
    case Operation::Add:
    case Operation::Subtract: return 1;
    case Operation::Multiply:
    case Operation::Divide: return 2;
    case Operation::Negate: return 3;  // below power: -2^2 = -(2^2)
    case Operation::Power: return 4;
    default: return 0;
  }
}

// One item of the reverse Polish program: a number literal (its byte span) or an operator (its byte offset,
// for messages).
struct Step {
  Operation op;
  size_t begin;
  size_t end;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool starts_with(const std::string& text, size_t offset, const char* prefix) {
  return text.compare(offset, std::char_traits<char>::length(prefix), prefix) == 0;
}

const char* const kMinusSign = "\xE2\x88\x92";  // U+2212 −
const char* const kTimesSign = "\xC3\x97";      // U+00D7 ×
const char* const kDivideSign = "\xC3\xB7";     // U+00F7 ÷

// Shunting-yard with explicit stacks: no recursion, so nesting is bounded by max_nesting alone.
std::vector<Step> parse(const std::string& text, const ToolLimits& limits) {
  std::vector<Step> program;
  std::vector<Step> operators;  // pending operators and open parentheses
  size_t pos = 0;
  bool expect_operand = true;
  int depth = 0;      // open parentheses
  int sign_run = 0;   // consecutive unary signs
  const auto skip_spaces = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  const auto count_sign = [&] {
    if (++sign_run > limits.max_nesting) {
      fail(ToolError::LimitExceeded,
           "more than " + std::to_string(limits.max_nesting) + " unary signs in a row " + at(text, pos));
    }
  };
  skip_spaces();
  if (pos == text.size()) fail(ToolError::InvalidInput, "empty expression: expected a number or '('");
  while (true) {
    skip_spaces();
    if (expect_operand) {
      const char c = pos < text.size() ? text[pos] : '\0';
      if (is_digit(c) || c == '.') {
        const size_t begin = pos;
        while (pos < text.size() && is_digit(text[pos])) ++pos;
        if (pos < text.size() && text[pos] == '.') {
          ++pos;
          if (pos >= text.size() || !is_digit(text[pos])) {
            fail(ToolError::InvalidInput,
                 "expected a digit after '.' " + at(text, pos) + ", " + describe_found(text, pos));
          }
          while (pos < text.size() && is_digit(text[pos])) ++pos;
        }
        // Notations a reader might expect but the grammar lacks: say so rather than misread them.
        if (pos < text.size()) {
          const char next = text[pos];
          const char after = pos + 1 < text.size() ? text[pos + 1] : '\0';
          if ((next == ',' || next == '_') && is_digit(after)) {
            fail(ToolError::InvalidInput, "digit group separators are not supported " + at(text, pos) +
                                              ": write 1000000, not 1,000,000");
          }
          if ((next == 'e' || next == 'E') && (is_digit(after) || after == '+' || after == '-')) {
            fail(ToolError::InvalidInput,
                 "exponent notation is not supported " + at(text, pos) + ": write 1.5*10^3, not 1.5e3");
          }
          const bool hex_digit_follows = std::isxdigit(static_cast<unsigned char>(after)) != 0;
          if ((next == 'x' || next == 'X') && pos - begin == 1 && text[begin] == '0' && hex_digit_follows) {
            fail(ToolError::InvalidInput, "hexadecimal numbers are not supported " + at(text, begin));
          }
        }
        program.push_back({Operation::Number, begin, pos});
        expect_operand = false;
        sign_run = 0;
      } else if (c == '(') {
        if (++depth > limits.max_nesting) {
          fail(ToolError::LimitExceeded,
               "parentheses nested deeper than " + std::to_string(limits.max_nesting) + " " + at(text, pos));
        }
        operators.push_back({Operation::OpenParen, pos, pos + 1});
        ++pos;
        sign_run = 0;
      } else if (c == '-' || starts_with(text, pos, kMinusSign)) {
        count_sign();
        // A prefix operator pops nothing: what precedes it is still waiting for its right operand.
        const size_t length = c == '-' ? 1 : 3;
        operators.push_back({Operation::Negate, pos, pos + length});
        pos += length;
      } else if (c == '+') {
        count_sign();  // unary plus changes nothing, but still counts towards the run
        ++pos;
      } else {
        fail(ToolError::InvalidInput, "expected a number or '(' " + at(text, pos) + ", " + describe_found(text, pos));
      }
      continue;
    }

    if (pos >= text.size()) break;
    const char c = text[pos];
    if (c == ')') {
      if (depth == 0) fail(ToolError::InvalidInput, "unmatched ')' " + at(text, pos));
      while (operators.back().op != Operation::OpenParen) {
        program.push_back(operators.back());
        operators.pop_back();
      }
      operators.pop_back();
      --depth;
      ++pos;
      continue;
    }
    Operation op;
    size_t length = 1;
    if (c == '+') {
      op = Operation::Add;
    } else if (c == '-') {
      op = Operation::Subtract;
    } else if (starts_with(text, pos, kMinusSign)) {
      op = Operation::Subtract, length = 3;
    } else if (starts_with(text, pos, "**")) {
      op = Operation::Power, length = 2;
    } else if (c == '*' || c == 'x') {
      op = Operation::Multiply;
    } else if (starts_with(text, pos, kTimesSign)) {
      op = Operation::Multiply, length = 2;
    } else if (c == '/') {
      op = Operation::Divide;
    } else if (starts_with(text, pos, kDivideSign)) {
      op = Operation::Divide, length = 2;
    } else if (c == '^') {
      op = Operation::Power;
    } else {
      fail(ToolError::InvalidInput, std::string("expected an operator") + (depth > 0 ? " or ')' " : " or the end ") +
                                        at(text, pos) + ", " + describe_found(text, pos));
    }
    // Pop what binds at least as tightly; power is right-associative, so an equal '^' stays.
    const bool right_associative = op == Operation::Power;
    while (!operators.empty() && operators.back().op != Operation::OpenParen &&
           (precedence(operators.back().op) > precedence(op) ||
            (precedence(operators.back().op) == precedence(op) && !right_associative))) {
      program.push_back(operators.back());
      operators.pop_back();
    }
    operators.push_back({op, pos, pos + length});
    pos += length;
    expect_operand = true;
  }
  while (!operators.empty()) {
    if (operators.back().op == Operation::OpenParen) {
      fail(ToolError::InvalidInput,
           "expected ')' " + at(text, pos) + " to close the '(' " + at(text, operators.back().begin));
    }
    program.push_back(operators.back());
    operators.pop_back();
  }
  return program;
}

// ---- Evaluation --------------------------------------------------------------------------------------------

class Evaluator {
 public:
  Evaluator(const std::string& text, const ToolLimits& limits) : text_(text), limits_(limits) {}

  Rational run(const std::vector<Step>& program) {
    std::vector<Rational> stack;
    for (const Step& step : program) {
      if (step.op == Operation::Number) {
        stack.push_back(number(step));
        continue;
      }
      if (step.op == Operation::Negate) {
        stack.back() = -stack.back();
        continue;
      }
      Rational right = std::move(stack.back());
      stack.pop_back();
      Rational& left = stack.back();
      left = apply(step, left, right);
    }
    return std::move(stack.back());
  }

 private:
  std::string operator_at(const Step& step) const {
    return "(the '" + text_.substr(step.begin, step.end - step.begin) + "' " + at(text_, step.begin) + ")";
  }

  void check_size(const Rational& value, const Step& step) const {
    if (exceeds_digits(value.numerator().magnitude(), limits_.max_result_digits) ||
        exceeds_digits(value.denominator().magnitude(), limits_.max_result_digits)) {
      fail(ToolError::LimitExceeded,
           "result has more than " + std::to_string(limits_.max_result_digits) + " digits " + operator_at(step));
    }
  }

  Rational number(const Step& step) const {
    const std::string literal = text_.substr(step.begin, step.end - step.begin);
    const size_t point = literal.find('.');
    std::string digits = literal.substr(0, point);
    std::string fraction = point == std::string::npos ? "" : literal.substr(point + 1);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();  // 1.50 = 1.5
    digits += fraction;
    const size_t first_nonzero = digits.find_first_not_of('0');
    digits = first_nonzero == std::string::npos ? "0" : digits.substr(first_nonzero);
    // Refuse what cannot fit even after reduction without converting it: k decimals leave a denominator of at
    // least 2^k (over 0.3 k digits), and the numerator keeps at least (digits - k) digits.
    const size_t limit = static_cast<size_t>(std::max(limits_.max_result_digits, 0));
    const bool hopeless = fraction.size() > 4 * limit + 8 || digits.size() > fraction.size() + limit;
    Rational value;
    if (!hopeless) {
      value = Rational(BigInt(false, magnitude_from_decimal(digits)), BigInt(false, power_of_ten(fraction.size())));
    }
    if (hopeless || exceeds_digits(value.numerator().magnitude(), limits_.max_result_digits) ||
        exceeds_digits(value.denominator().magnitude(), limits_.max_result_digits)) {
      fail(ToolError::LimitExceeded,
           "number has more than " + std::to_string(limits_.max_result_digits) + " digits " + at(text_, step.begin));
    }
    return value;
  }

  Rational apply(const Step& step, const Rational& left, const Rational& right) const {
    Rational result;
    switch (step.op) {
      case Operation::Add: result = left + right; break;
      case Operation::Subtract: result = left - right; break;
      case Operation::Multiply: result = left * right; break;
      case Operation::Divide:
        if (right.is_zero()) fail(ToolError::InvalidInput, "division by zero " + operator_at(step));
        result = left / right;
        break;
      case Operation::Power: return power(step, left, right);
      default: break;
    }
    check_size(result, step);
    return result;
  }

  // Squares and products of a reduced fraction's parts, checked after each multiplication; every intermediate
  // is at most the final result, so a refusal is never premature.
  Limbs power_magnitude(Limbs base, unsigned long exponent, const Step& step) const {
    Limbs result{1};
    const auto check = [&](const Limbs& value) {
      if (exceeds_digits(value, limits_.max_result_digits)) {
        fail(ToolError::LimitExceeded,
             "result has more than " + std::to_string(limits_.max_result_digits) + " digits " + operator_at(step));
      }
    };
    while (exponent > 0) {
      if (exponent & 1) {
        result = multiply_magnitude(result, base);
        check(result);
      }
      exponent >>= 1;
      if (exponent > 0) {
        base = multiply_magnitude(base, base);
        check(base);
      }
    }
    return result;
  }

  Rational power(const Step& step, const Rational& base, const Rational& exponent) const {
    const std::string exponent_text = exponent.to_string();
    const std::string shown = exponent_text.size() <= 24 ? " " + exponent_text : "";
    if (!exponent.is_integer()) {
      fail(ToolError::InvalidInput, "the exponent" + shown + " is not an integer " + operator_at(step));
    }
    const Limbs& magnitude = exponent.numerator().magnitude();
    Limbs max_exponent{static_cast<uint32_t>(std::max(limits_.max_exponent, 0))};
    strip_high_zeros(max_exponent);
    if (compare_magnitude(magnitude, max_exponent) > 0) {
      fail(ToolError::LimitExceeded, "the exponent" + shown + " is larger than " +
                                         std::to_string(limits_.max_exponent) + " " + operator_at(step));
    }
    const unsigned long n = magnitude.empty() ? 0 : magnitude[0];
    const bool negative_exponent = exponent.numerator().negative();
    if (base.is_zero()) {
      if (negative_exponent) {
        fail(ToolError::InvalidInput, "division by zero: 0 to a negative power " + operator_at(step));
      }
      return n == 0 ? Rational(BigInt::one(), BigInt::one()) : Rational();
    }
    // |p|^n >= 2^(n (bits - 1)): refuse from the sizes alone before any multiplication (10^4096, 9^4096...).
    const size_t bits = std::max(bit_length(base.numerator().magnitude()), bit_length(base.denominator().magnitude()));
    const double fewest_digits =
        std::floor(static_cast<double>(n) * static_cast<double>(bits - 1) * kLog10Of2 - 1e-9) + 1;
    if (fewest_digits > limits_.max_result_digits) {
      fail(ToolError::LimitExceeded, "result would have more than " + std::to_string(limits_.max_result_digits) +
                                         " digits " + operator_at(step));
    }
    Limbs numerator = power_magnitude(base.numerator().magnitude(), n, step);
    Limbs denominator = power_magnitude(base.denominator().magnitude(), n, step);
    const bool negative = base.numerator().negative() && (n & 1);
    if (negative_exponent) std::swap(numerator, denominator);
    // Powers of coprime numbers stay coprime: no reduction needed.
    return Rational::reduced(BigInt(negative, std::move(numerator)), BigInt(false, std::move(denominator)));
  }

  const std::string& text_;
  const ToolLimits& limits_;
};

bool is_printable_ascii(const std::string& text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

ToolResult evaluate_expression(const std::string& expression, const ToolLimits& limits) {
  try {
    // Length first: nothing else reads an oversized input.
    if (expression.size() > limits.max_input_chars) {
      return ToolResult::failure(ToolError::LimitExceeded,
                                 "expression is longer than " + std::to_string(limits.max_input_chars) + " characters");
    }
    const std::vector<Step> program = parse(expression, limits);
    const Rational value = Evaluator(expression, limits).run(program);
    ToolResult result;
    result.text = value.to_string();
    if (result.text.size() > limits.max_result_chars) {
      return ToolResult::failure(ToolError::LimitExceeded,
                                 "result is longer than " + std::to_string(limits.max_result_chars) + " characters");
    }
    result.details = {{"value", result.text}, {"integer", value.is_integer()}};
    if (!value.is_integer()) result.details["decimal"] = approximate_decimal(value);
    return result;
  } catch (const CalculatorFailure& failure) {
    return ToolResult::failure(failure.error, failure.message);
  } catch (const std::bad_alloc&) {
    return ToolResult::failure(ToolError::LimitExceeded, "out of memory");
  } catch (const std::exception& error) {
    return ToolResult::failure(ToolError::InvalidInput, std::string("calculator failed: ") + error.what());
  } catch (...) {
    return ToolResult::failure(ToolError::InvalidInput, "calculator failed");
  }
}

std::string Calculator::description() const {
  return "Exact arithmetic on big integers and fractions: + - * / ^ and parentheses, e.g. (2^64 - 1) / 3.";
}

nlohmann::json Calculator::parameters() const {
  return {
      {"type", "object"},
      {"properties",
       {{"expression",
         {{"type", "string"},
          {"description",
           "Arithmetic on integers and decimals with + - * / ^ (or **), unary minus and parentheses, e.g. "
           "\"(1/3 + 0.25) * 2^10\". Decimals are exact: 0.1 + 0.2 = 3/10."}}}}},
      {"required", {"expression"}},
      {"additionalProperties", false},
  };
}

ToolResult Calculator::invoke(const nlohmann::json& arguments, const ToolContext& context) const {
  try {
    if (!arguments.is_object()) {
      return ToolResult::failure(ToolError::BadArguments,
                                 "arguments must be an object such as {\"expression\": \"2^10 + 1\"}");
    }
    for (const auto& item : arguments.items()) {
      if (item.key() == "expression") continue;
      const std::string& key = item.key();
      const bool showable = key.size() <= 40 && is_printable_ascii(key);
      const std::string named = showable ? "unknown argument \"" + key + "\"" : "unknown argument";
      return ToolResult::failure(ToolError::BadArguments, named + ": the calculator takes only \"expression\"");
    }
    const auto expression = arguments.find("expression");
    if (expression == arguments.end()) {
      return ToolResult::failure(ToolError::BadArguments,
                                 "missing argument \"expression\" (a string such as \"2^10 + 1\")");
    }
    if (!expression->is_string()) {
      return ToolResult::failure(ToolError::BadArguments,
                                 std::string("\"expression\" must be a string, not ") + expression->type_name());
    }
    return evaluate_expression(expression->get_ref<const std::string&>(), context.limits);
  } catch (const std::exception& error) {
    return ToolResult::failure(ToolError::InvalidInput, std::string("calculator failed: ") + error.what());
  }
}

}  // namespace muse

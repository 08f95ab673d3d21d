#include "tools/calculator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

namespace muse {
namespace {

// The result text, or "error_name: message" so a failing expectation shows what came back.
std::string eval(const std::string& expression, const ToolLimits& limits = {}) {
  const ToolResult r = evaluate_expression(expression, limits);
  return r.ok() ? r.text : std::string(tool_error_name(r.error)) + ": " + r.text;
}

ToolError error_of(const std::string& expression, const ToolLimits& limits = {}) {
  return evaluate_expression(expression, limits).error;
}

// Expected values below come from Python's int and fractions.Fraction.

TEST(Calculator, AddsBigIntegersExactly) {
  EXPECT_EQ(eval("99999999999999999999999999999999999999 + 1"), "100000000000000000000000000000000000000");
  EXPECT_EQ(eval("2^255 + 2^255"),
            "115792089237316195423570985008687907853269984665640564039457584007913129639936");
  EXPECT_EQ(eval("-(2^64) + 1"), "-18446744073709551615");
  EXPECT_EQ(eval("2 + 3"), "5");
}

TEST(Calculator, SubtractsBigIntegersExactly) {
  EXPECT_EQ(eval("2^200 - 3^100"), "1606938044258474898021230081010126141392437372510090727779375");
  EXPECT_EQ(eval("3^100 - 2^200"), "-1606938044258474898021230081010126141392437372510090727779375");
  EXPECT_EQ(eval("2^100 - 2^100"), "0");
  EXPECT_EQ(eval("7-3-2"), "2");
}

TEST(Calculator, MultipliesBigIntegersExactly) {
  EXPECT_EQ(eval("123456789012345678901234567890*987654321098765432109876543210"),
            "121932631137021795226185032733622923332237463801111263526900");
  EXPECT_EQ(eval("2^64 * 2^64"), "340282366920938463463374607431768211456");
  std::string factorial = "1";
  for (int k = 2; k <= 30; ++k) factorial += "*" + std::to_string(k);
  EXPECT_EQ(eval(factorial), "265252859812191058636308480000000");
}

TEST(Calculator, DividesBigIntegersIntoReducedFractions) {
  EXPECT_EQ(eval("(2^128 - 1) / (2^64 + 1)"), "18446744073709551615");
  EXPECT_EQ(eval("(2^127 - 1) / (2^61 - 1)"), "170141183460469231731687303715884105727/2305843009213693951");
  EXPECT_EQ(eval("(10^50 + 1) / 10^25"),
            "100000000000000000000000000000000000000000000000001/10000000000000000000000000");
  EXPECT_EQ(eval("3^200 * 7 / (3^150 * 14)"), "717897987691852588770249/2");
  EXPECT_EQ(eval("-12345678901234567890 / 98765432109876543210"), "-13717421/109739369");
  EXPECT_EQ(eval("3^200 / 3^198"), "9");
  EXPECT_EQ(eval("8/4/2"), "1");
}

TEST(Calculator, ComputesPowersExactly) {
  EXPECT_EQ(eval("2^100"), "1267650600228229401496703205376");
  EXPECT_EQ(eval("2**100"), "1267650600228229401496703205376");
  EXPECT_EQ(eval("3^200"),
            "2656139888758747693387813220357796268292334526533944959745749617390924909013021829943846990"
            "44001");
  EXPECT_EQ(eval("(-2)^3"), "-8");
  EXPECT_EQ(eval("(-2)^4"), "16");
  EXPECT_EQ(eval("0^0"), "1");
  EXPECT_EQ(eval("0^5"), "0");
  EXPECT_EQ(eval("2^1328").size(), 400u);  // the largest power of two within max_result_digits
}

TEST(Calculator, KeepsFractionsInLowestTerms) {
  EXPECT_EQ(eval("1/3 + 1/6"), "1/2");
  EXPECT_EQ(eval("6/4"), "3/2");
  EXPECT_EQ(eval("-6/4"), "-3/2");
  EXPECT_EQ(eval("6/-4"), "-3/2");
  EXPECT_EQ(eval("1/3 * 3"), "1");
  EXPECT_EQ(eval("1 - 1/3 - 2/3"), "0");
  std::string harmonic = "1";
  for (int k = 2; k <= 50; ++k) harmonic += "+1/" + std::to_string(k);
  EXPECT_EQ(eval(harmonic), "13943237577224054960759/3099044504245996706400");
}

TEST(Calculator, ReadsDecimalsAsExactFractions) {
  EXPECT_EQ(eval("0.1 + 0.2"), "3/10");
  EXPECT_EQ(eval("3.25"), "13/4");
  EXPECT_EQ(eval(".5"), "1/2");
  EXPECT_EQ(eval("1.50"), "3/2");
  EXPECT_EQ(eval("2.000"), "2");
  EXPECT_EQ(eval("0.000"), "0");
  EXPECT_EQ(eval("007"), "7");
}

TEST(Calculator, FollowsPrecedenceAndAssociativity) {
  EXPECT_EQ(eval("2^3^2"), "512");  // right-associative
  EXPECT_EQ(eval("-2^2"), "-4");    // power binds tighter than unary minus
  EXPECT_EQ(eval("(-2)^2"), "4");
  EXPECT_EQ(eval("7-3-2"), "2");
  EXPECT_EQ(eval("8/4/2"), "1");
  EXPECT_EQ(eval("2+3*4"), "14");
  EXPECT_EQ(eval("(2+3)*4"), "20");
  EXPECT_EQ(eval("2*3^2"), "18");
  EXPECT_EQ(eval("-3*-2"), "6");
  EXPECT_EQ(eval("2*-3"), "-6");
  EXPECT_EQ(eval("2--3"), "5");
  EXPECT_EQ(eval("--3"), "3");
  EXPECT_EQ(eval("+-+3"), "-3");
  EXPECT_EQ(eval("2^-3*4"), "1/2");    // (2^-3)*4
  EXPECT_EQ(eval("2^-1^2"), "1/2");    // 2^(-(1^2))
  EXPECT_EQ(eval("12/3*2"), "8");
  EXPECT_EQ(eval(" \t2 +\n 3 "), "5");  // whitespace anywhere between tokens
}

TEST(Calculator, AllowsNegativeExponents) {
  EXPECT_EQ(eval("2^-2"), "1/4");
  EXPECT_EQ(eval("(2/3)^-5"), "243/32");
  EXPECT_EQ(eval("(-2)^-3"), "-1/8");
  EXPECT_EQ(eval("10^-3"), "1/1000");
  EXPECT_EQ(eval("(1/2)^-10"), "1024");
  EXPECT_EQ(eval("2^(1-3)"), "1/4");
  EXPECT_EQ(eval("4^(6/3)"), "16");  // an exponent that reduces to an integer is an integer
}

TEST(Calculator, AcceptsUnicodeAndLetterOperators) {
  EXPECT_EQ(eval("6 \xC3\x97 7"), "42");          // ×
  EXPECT_EQ(eval("1 \xC3\xB7 4"), "1/4");         // ÷
  EXPECT_EQ(eval("5 \xE2\x88\x92 8"), "-3");      // − as a binary minus
  EXPECT_EQ(eval("\xE2\x88\x92" "2^2"), "-4");    // − as a unary minus
  EXPECT_EQ(eval("6x7"), "42");
  EXPECT_EQ(eval("(1+1) x (2+1)"), "6");
}

TEST(Calculator, DetailsCarryValueKindAndDecimal) {
  const ToolResult integer = evaluate_expression("2^10");
  ASSERT_TRUE(integer.ok());
  EXPECT_EQ(integer.details["value"], "1024");
  EXPECT_EQ(integer.details["integer"], true);
  EXPECT_FALSE(integer.details.contains("decimal"));

  const ToolResult third = evaluate_expression("1/3");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third.text, "1/3");
  EXPECT_EQ(third.details["value"], "1/3");
  EXPECT_EQ(third.details["integer"], false);
  EXPECT_EQ(third.details["decimal"], "0.333333333333");

  const auto decimal = [](const std::string& expression) {
    return evaluate_expression(expression).details.value("decimal", std::string("none"));
  };
  EXPECT_EQ(decimal("2/3"), "0.666666666667");  // rounded, not truncated
  EXPECT_EQ(decimal("-1/7"), "-0.142857142857");
  EXPECT_EQ(decimal("-22/7"), "-3.14285714286");
  EXPECT_EQ(decimal("7/2"), "3.5");
  EXPECT_EQ(decimal("1/1024"), "0.0009765625");
  EXPECT_EQ(decimal("1/7^30"), "4.43668708624e-26");
  EXPECT_EQ(decimal("12345678901234567/10"), "1.23456789012e+15");
  EXPECT_EQ(decimal("9.9999999999999"), "10");  // rounds up to one more digit before the point
  EXPECT_EQ(decimal("1/99999999999999"), "1e-14");
  EXPECT_EQ(decimal("2^1328/3"), "1.95304831473e+399");  // exact even beyond double's range
}

TEST(Calculator, DivisionByZeroIsInvalidInput) {
  for (const char* expression : {"1/0", "1/(2-2)", "0^-1", "(1-1)^-3", "5 / 0.0"}) {
    const ToolResult r = evaluate_expression(expression);
    EXPECT_EQ(r.error, ToolError::InvalidInput) << expression;
    EXPECT_NE(r.text.find("division by zero"), std::string::npos) << expression << ": " << r.text;
  }
  EXPECT_EQ(eval("1/0"), "invalid_input: division by zero (the '/' at position 2)");
}

TEST(Calculator, RefusesOverlongInputBeforeParsing) {
  const auto start = std::chrono::steady_clock::now();
  const ToolResult r = evaluate_expression(std::string(1 << 20, '1'));
  EXPECT_EQ(r.error, ToolError::LimitExceeded);
  EXPECT_EQ(r.text, "expression is longer than 4096 characters");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ToolLimits tight;
  tight.max_input_chars = 5;
  EXPECT_EQ(error_of("1+2+3", tight), ToolError::None);
  EXPECT_EQ(error_of("1+2+34", tight), ToolError::LimitExceeded);
}

TEST(Calculator, RefusesHugePowersWithoutComputingThem) {
  EXPECT_EQ(eval("10^10^10"), "limit_exceeded: the exponent 10000000000 is larger than 4096 (the '^' at position 3)");
  EXPECT_EQ(error_of("2^4097"), ToolError::LimitExceeded);
  EXPECT_EQ(error_of("2^-4097"), ToolError::LimitExceeded);
  EXPECT_EQ(error_of("2^2^2^2^2"), ToolError::LimitExceeded);  // 2^65536
  EXPECT_EQ(error_of("2^(10^400)"), ToolError::LimitExceeded);  // the exponent itself is refused, not the power
  EXPECT_EQ(error_of("2^1329"), ToolError::LimitExceeded);  // 401 digits
  EXPECT_EQ(error_of("0.5^1329"), ToolError::LimitExceeded);  // the denominator counts too
  // A 300-digit base to the 4096th: refused from the sizes, so it costs nothing.
  const auto start = std::chrono::steady_clock::now();
  const ToolResult r = evaluate_expression(std::string(300, '7') + "^4096");
  EXPECT_EQ(r.error, ToolError::LimitExceeded);
  EXPECT_EQ(r.text, "result would have more than 400 digits (the '^' at position 301)");
  EXPECT_EQ(error_of("9^4096"), ToolError::LimitExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  // Bases that stay small are fine at the largest exponent.
  EXPECT_EQ(eval("1^4096"), "1");
  EXPECT_EQ(eval("(-1)^-4095"), "-1");
  EXPECT_EQ(eval("2^(1/2)"), "invalid_input: the exponent 1/2 is not an integer (the '^' at position 2)");
}

TEST(Calculator, RefusesResultsOverTheDigitLimit) {
  EXPECT_EQ(eval("10^399").size(), 400u);
  EXPECT_EQ(eval("10^400"), "limit_exceeded: result has more than 400 digits (the '^' at position 3)");
  EXPECT_EQ(eval("10^200 * 10^200"), "limit_exceeded: result has more than 400 digits (the '*' at position 8)");
  EXPECT_EQ(eval("(10^399 - 1) * 10 + 9"), std::string(400, '9'));
  EXPECT_EQ(error_of("(10^399 - 1) * 10 + 10"), ToolError::LimitExceeded);
  EXPECT_EQ(error_of("1 / 10^400"), ToolError::LimitExceeded);  // the denominator counts too
  EXPECT_EQ(error_of("1 / (10^399 * 10)"), ToolError::LimitExceeded);
  // A chain of factors, each small, whose product grows past the limit.
  std::string chain = "1";
  for (int k = 0; k < 100; ++k) chain += "*123456789";
  EXPECT_EQ(error_of(chain), ToolError::LimitExceeded);
  // Literals too: 400 digits pass, 401 do not; 0.(399 zeros)1 has a 401-digit denominator.
  EXPECT_EQ(eval(std::string(400, '9')), std::string(400, '9'));
  EXPECT_EQ(eval(std::string(401, '9')), "limit_exceeded: number has more than 400 digits at position 1");
  EXPECT_EQ(error_of("0." + std::string(398, '0') + "1"), ToolError::None);
  EXPECT_EQ(error_of("0." + std::string(399, '0') + "1"), ToolError::LimitExceeded);
  EXPECT_EQ(eval("1." + std::string(1000, '0') + "5" + std::string(1000, '0') + "- 1"),
            "limit_exceeded: number has more than 400 digits at position 1");
  // An intermediate that reduces back under the limit is still refused: the bound is on every step.
  EXPECT_EQ(error_of("10^300 * 10^300 / 10^300"), ToolError::LimitExceeded);
  ToolLimits small;
  small.max_result_digits = 5;
  EXPECT_EQ(eval("99999", small), "99999");
  EXPECT_EQ(error_of("99999+1", small), ToolError::LimitExceeded);
  EXPECT_EQ(error_of("1/100000", small), ToolError::LimitExceeded);
}

TEST(Calculator, RefusesDeepNestingWithoutRecursing) {
  ToolLimits roomy;
  roomy.max_input_chars = 1 << 20;
  const std::string deep = std::string(10000, '(') + "1" + std::string(10000, ')');
  const ToolResult refused = evaluate_expression(deep, roomy);
  EXPECT_EQ(refused.error, ToolError::LimitExceeded);
  EXPECT_EQ(refused.text, "parentheses nested deeper than 64 at position 65");
  EXPECT_EQ(error_of(deep), ToolError::LimitExceeded);  // default limits: refused by length first

  EXPECT_EQ(eval(std::string(64, '(') + "1" + std::string(64, ')')), "1");
  // Explicit stacks: even when the bound allows it, 10,000 levels cannot overflow the machine stack.
  roomy.max_nesting = 20000;
  EXPECT_EQ(eval(deep, roomy), "1");
  EXPECT_EQ(eval(std::string(10000, '-') + "1", roomy), "1");
}

TEST(Calculator, RefusesLongRunsOfUnarySigns) {
  EXPECT_EQ(eval(std::string(64, '-') + "1"), "1");
  EXPECT_EQ(eval(std::string(65, '-') + "1"), "limit_exceeded: more than 64 unary signs in a row at position 65");
  EXPECT_EQ(error_of(std::string(65, '+') + "1"), ToolError::LimitExceeded);
  EXPECT_EQ(eval("-(-(-(-(1))))"), "1");  // parentheses reset the run (they count towards nesting)
}

TEST(Calculator, ReportsSyntaxErrorsWithPositions) {
  EXPECT_EQ(eval(""), "invalid_input: empty expression: expected a number or '('");
  EXPECT_EQ(eval("   "), "invalid_input: empty expression: expected a number or '('");
  EXPECT_EQ(eval("(1+2"), "invalid_input: expected ')' at position 5 to close the '(' at position 1");
  EXPECT_EQ(eval("1+2)"), "invalid_input: unmatched ')' at position 4");
  EXPECT_EQ(eval("((1)"), "invalid_input: expected ')' at position 5 to close the '(' at position 1");
  EXPECT_EQ(eval("()"), "invalid_input: expected a number or '(' at position 2, found ')'");
  EXPECT_EQ(eval("3 +"), "invalid_input: expected a number or '(' at position 4, found the end of the expression");
  EXPECT_EQ(eval("3 + * 4"), "invalid_input: expected a number or '(' at position 5, found '*'");
  EXPECT_EQ(eval("2+3 abc"), "invalid_input: expected an operator or the end at position 5, found 'a'");
  EXPECT_EQ(eval("(2+3 abc)"), "invalid_input: expected an operator or ')' at position 6, found 'a'");
  EXPECT_EQ(eval("2 = 4"), "invalid_input: expected an operator or the end at position 3, found '='");
  EXPECT_EQ(eval("2(3)"), "invalid_input: expected an operator or the end at position 2, found '('");
  EXPECT_EQ(eval("1.2.3"), "invalid_input: expected an operator or the end at position 4, found '.'");
  EXPECT_EQ(eval("5."), "invalid_input: expected a digit after '.' at position 3, found the end of the expression");
  EXPECT_EQ(eval("x2"), "invalid_input: expected a number or '(' at position 1, found 'x'");
  EXPECT_EQ(eval("2 % 3"), "invalid_input: expected an operator or the end at position 3, found '%'");
  // Positions count characters, not bytes: the '×' is one.
  EXPECT_EQ(eval("2\xC3\x97 3 ?"), "invalid_input: expected an operator or the end at position 6, found '?'");
  EXPECT_EQ(eval("2 \xE2\x89\xA0 3"),
            "invalid_input: expected an operator or the end at position 3, found '\xE2\x89\xA0'");
  // Bytes that are not UTF-8 are described, not echoed (the message must stay valid JSON text).
  EXPECT_EQ(eval("2 \xFF"),
            "invalid_input: expected an operator or the end at position 3, found a byte that is not UTF-8");
  EXPECT_EQ(eval(std::string("2\0", 2)),
            "invalid_input: expected an operator or the end at position 2, found a control character");
}

TEST(Calculator, ExplainsUnsupportedNumberNotations) {
  EXPECT_EQ(eval("1,000"),
            "invalid_input: digit group separators are not supported at position 2: write 1000000, not 1,000,000");
  EXPECT_EQ(error_of("1_000"), ToolError::InvalidInput);
  EXPECT_EQ(eval("1.5e3"),
            "invalid_input: exponent notation is not supported at position 4: write 1.5*10^3, not 1.5e3");
  EXPECT_EQ(eval("0x1F"), "invalid_input: hexadecimal numbers are not supported at position 1");
  EXPECT_EQ(eval("0 x 5"), "0");  // with spaces it is a product
}

TEST(Calculator, ReportsSyntaxErrorsBeforeEvaluating) {
  // Parsing finishes first: the model learns about the typo, not about the division.
  EXPECT_EQ(eval("1/0 + (2"), "invalid_input: expected ')' at position 9 to close the '(' at position 7");
}

TEST(Calculator, InvokeValidatesArguments) {
  const Calculator calculator;
  const ToolContext context;
  EXPECT_EQ(calculator.invoke({{"expression", "2^100"}}, context).text, "1267650600228229401496703205376");

  const ToolResult missing = calculator.invoke(nlohmann::json::object(), context);
  EXPECT_EQ(missing.error, ToolError::BadArguments);
  EXPECT_EQ(missing.text, "missing argument \"expression\" (a string such as \"2^10 + 1\")");

  const ToolResult number = calculator.invoke({{"expression", 42}}, context);
  EXPECT_EQ(number.error, ToolError::BadArguments);
  EXPECT_EQ(number.text, "\"expression\" must be a string, not number");

  EXPECT_EQ(calculator.invoke({{"expression", nullptr}}, context).error, ToolError::BadArguments);
  EXPECT_EQ(calculator.invoke(nlohmann::json::array({"2+2"}), context).error, ToolError::BadArguments);
  EXPECT_EQ(calculator.invoke("2+2", context).error, ToolError::BadArguments);

  const ToolResult extra = calculator.invoke({{"expression", "1"}, {"precision", 5}}, context);
  EXPECT_EQ(extra.error, ToolError::BadArguments);
  EXPECT_EQ(extra.text, "unknown argument \"precision\": the calculator takes only \"expression\"");

  EXPECT_EQ(calculator.invoke({{"expression", "1/0"}}, context).error, ToolError::InvalidInput);
}

TEST(Calculator, InvokeUsesTheContextLimits) {
  const Calculator calculator;
  ToolContext context;
  context.limits.max_exponent = 10;
  EXPECT_EQ(calculator.invoke({{"expression", "2^10"}}, context).text, "1024");
  EXPECT_EQ(calculator.invoke({{"expression", "2^11"}}, context).error, ToolError::LimitExceeded);
  context.limits.max_result_chars = 3;
  EXPECT_EQ(calculator.invoke({{"expression", "999"}}, context).text, "999");
  EXPECT_EQ(calculator.invoke({{"expression", "1/99"}}, context).error, ToolError::LimitExceeded);
}

TEST(Calculator, DescribesItselfWithASchema) {
  const Calculator calculator;
  EXPECT_EQ(calculator.name(), "calculator");
  EXPECT_FALSE(calculator.description().empty());
  EXPECT_EQ(calculator.description().find('\n'), std::string::npos);
  const nlohmann::json schema = calculator.parameters();
  EXPECT_EQ(schema["type"], "object");
  EXPECT_EQ(schema["properties"]["expression"]["type"], "string");
  EXPECT_TRUE(schema["properties"]["expression"]["description"].is_string());
  EXPECT_EQ(schema["required"], nlohmann::json::array({"expression"}));
  EXPECT_EQ(schema["additionalProperties"], false);
  const std::unique_ptr<Tool> as_tool = std::make_unique<Calculator>();
  EXPECT_EQ(as_tool->name(), "calculator");
}

// ---- Randomized cross-check against an independent evaluator ----

// A fraction of __int128 with overflow detection: the reference the calculator's big numbers must agree with.
// Expressions whose exact value would overflow it are skipped (and counted).
struct SmallFraction {
  __int128 numerator = 0;
  __int128 denominator = 1;
};

enum class Outcome { Value, DivisionByZero, Overflow };

__int128 gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

void make_fraction(__int128 numerator, __int128 denominator, SmallFraction& out) {
  if (denominator < 0) {
    numerator = -numerator;
    denominator = -denominator;
  }
  const __int128 g = gcd128(numerator, denominator);
  out.numerator = g > 1 ? numerator / g : numerator;
  out.denominator = g > 1 ? denominator / g : denominator;
  if (out.numerator == 0) out.denominator = 1;
}

std::string to_string128(__int128 value) {
  if (value == 0) return "0";
  const bool negative = value < 0;
  std::string digits;
  while (value != 0) {
    const int digit = static_cast<int>(value % 10);
    digits.insert(digits.begin(), static_cast<char>('0' + (digit < 0 ? -digit : digit)));
    value /= 10;
  }
  return negative ? "-" + digits : digits;
}

// An expression tree printed with the fewest parentheses the grammar allows, so parsing must get precedence,
// associativity and unary minus right to reproduce the tree's value.
struct Node {
  char op = 'n';  // 'n' number, '~' negation, or + - * / ^
  long value = 0;
  std::unique_ptr<Node> left;
  std::unique_ptr<Node> right;
};

int node_precedence(const Node& node) {
  switch (node.op) {
    case '+':
    case '-': return 1;
    case '*':
    case '/': return 2;
    case '~': return 3;
    case '^': return 4;
    default: return 5;
  }
}

std::unique_ptr<Node> random_tree(std::mt19937& rng, int depth) {
  auto node = std::make_unique<Node>();
  std::uniform_int_distribution<int> choice(0, 9);
  const int pick = choice(rng);
  if (depth == 0 || pick < 2) {
    node->value = std::uniform_int_distribution<long>(0, 30)(rng);
    return node;
  }
  if (pick == 2) {
    node->op = '~';
    node->left = random_tree(rng, depth - 1);
    return node;
  }
  if (pick == 3) {  // power: an arbitrary base, a small signed integer exponent
    node->op = '^';
    node->left = random_tree(rng, depth - 1);
    node->right = std::make_unique<Node>();
    const long exponent = std::uniform_int_distribution<long>(-3, 3)(rng);
    node->right->value = exponent < 0 ? -exponent : exponent;
    if (exponent < 0) {
      auto negated = std::make_unique<Node>();
      negated->op = '~';
      negated->left = std::move(node->right);
      node->right = std::move(negated);
    }
    return node;
  }
  static const char kOps[] = {'+', '-', '*', '/', '+', '-'};
  node->op = kOps[pick - 4];
  node->left = random_tree(rng, depth - 1);
  node->right = random_tree(rng, depth - 1);
  return node;
}

std::string print_tree(const Node& node, std::mt19937& rng) {
  const auto space = [&]() -> std::string {
    return std::uniform_int_distribution<int>(0, 3)(rng) == 0 ? " " : "";
  };
  const auto wrap = [&](const Node& child, bool needs_parentheses) {
    const std::string text = print_tree(child, rng);
    return needs_parentheses ? "(" + space() + text + space() + ")" : text;
  };
  const int p = node_precedence(node);
  switch (node.op) {
    case 'n': return std::to_string(node.value);
    case '~': return "-" + space() + wrap(*node.left, node_precedence(*node.left) < p);
    case '^': {
      // The base needs parentheses unless it is a number (a negation or another power would regroup); the
      // exponent is a signed operand, so -3 needs none.
      const std::string base = wrap(*node.left, node.left->op != 'n');
      const bool starred = std::uniform_int_distribution<int>(0, 1)(rng) == 0;
      return base + space() + (starred ? "**" : "^") + space() + wrap(*node.right, false);
    }
    default: {
      const int left_p = node_precedence(*node.left);
      const int right_p = node_precedence(*node.right);
      // Left-associative: an equal-precedence right operand is grouped explicitly.
      const std::string left = wrap(*node.left, left_p < p);
      const std::string right = wrap(*node.right, right_p <= p);
      return left + space() + std::string(1, node.op) + space() + right;
    }
  }
}

bool checked_mul(__int128 a, __int128 b, __int128& out) { return !__builtin_mul_overflow(a, b, &out); }
bool checked_add(__int128 a, __int128 b, __int128& out) { return !__builtin_add_overflow(a, b, &out); }

Outcome reference_value(const Node& node, SmallFraction& out) {
  if (node.op == 'n') {
    out = {node.value, 1};
    return Outcome::Value;
  }
  SmallFraction a;
  SmallFraction b;
  Outcome left = reference_value(*node.left, a);
  if (node.op == '~') {
    if (left == Outcome::Value) out = {-a.numerator, a.denominator};
    return left;
  }
  const Outcome right = reference_value(*node.right, b);
  if (left == Outcome::Overflow || right == Outcome::Overflow) return Outcome::Overflow;
  if (left == Outcome::DivisionByZero || right == Outcome::DivisionByZero) return Outcome::DivisionByZero;
  __int128 x;
  __int128 y;
  __int128 z;
  switch (node.op) {
    case '+':
    case '-': {
      if (!checked_mul(a.numerator, b.denominator, x) || !checked_mul(b.numerator, a.denominator, y) ||
          !checked_add(x, node.op == '-' ? -y : y, x) || !checked_mul(a.denominator, b.denominator, z)) {
        return Outcome::Overflow;
      }
      make_fraction(x, z, out);
      return Outcome::Value;
    }
    case '*':
      if (!checked_mul(a.numerator, b.numerator, x) || !checked_mul(a.denominator, b.denominator, z)) {
        return Outcome::Overflow;
      }
      make_fraction(x, z, out);
      return Outcome::Value;
    case '/':
      if (b.numerator == 0) return Outcome::DivisionByZero;
      if (!checked_mul(a.numerator, b.denominator, x) || !checked_mul(a.denominator, b.numerator, z)) {
        return Outcome::Overflow;
      }
      make_fraction(x, z, out);
      return Outcome::Value;
    case '^': {
      const long exponent = static_cast<long>(b.numerator);  // the tree only builds small integer exponents
      const long count = exponent < 0 ? -exponent : exponent;
      if (exponent < 0 && a.numerator == 0) return Outcome::DivisionByZero;
      x = 1;
      z = 1;
      for (long k = 0; k < count; ++k) {
        if (!checked_mul(x, a.numerator, x) || !checked_mul(z, a.denominator, z)) return Outcome::Overflow;
      }
      if (exponent < 0) std::swap(x, z);
      make_fraction(x, z, out);
      return Outcome::Value;
    }
    default: return Outcome::Overflow;
  }
}

TEST(Calculator, RandomExpressionsMatchAnIndependentEvaluator) {
  std::mt19937 rng(20240611);
  int compared = 0;
  int divisions_by_zero = 0;
  for (int i = 0; i < 200; ++i) {
    const std::unique_ptr<Node> tree = random_tree(rng, 4);
    const std::string expression = print_tree(*tree, rng);
    SmallFraction expected;
    const Outcome outcome = reference_value(*tree, expected);
    if (outcome == Outcome::Overflow) continue;
    const ToolResult r = evaluate_expression(expression);
    if (outcome == Outcome::DivisionByZero) {
      EXPECT_EQ(r.error, ToolError::InvalidInput) << expression << " -> " << r.text;
      ++divisions_by_zero;
      continue;
    }
    ASSERT_TRUE(r.ok()) << expression << " -> " << r.text;
    const std::string want = expected.denominator == 1
                                 ? to_string128(expected.numerator)
                                 : to_string128(expected.numerator) + "/" + to_string128(expected.denominator);
    EXPECT_EQ(r.text, want) << expression;
    ++compared;
  }
  // Honest coverage: most expressions were compared, not skipped.
  EXPECT_GE(compared, 150);
  EXPECT_GT(divisions_by_zero, 0);
}

}  // namespace
}  // namespace muse

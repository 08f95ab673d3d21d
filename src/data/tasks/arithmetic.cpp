#include "data/tasks/arithmetic.h"

#include <algorithm>
#include <vector>

#include "data/surface.h"
#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

int digit_count(int64_t n) {
  int count = 1;
  for (; n >= 10; n /= 10) ++count;
  return count;
}

int digit_at(int64_t n, int place) {
  for (int i = 0; i < place; ++i) n /= 10;
  return static_cast<int>(n % 10);
}

// Uniform over the numbers with exactly `digits` digits; 0 counts as a 1-digit number.
int64_t random_operand(Rng& rng, int digits) {
  if (digits == 1) return rng.uniform_int(0, 9);
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  return rng.uniform_int(low, low * 10 - 1);
}

// Column subtraction for top >= bottom, fixed width like the sum: "top-bottom-borrow_in=digit b<borrow_out>|".
std::string column_difference_trace(int64_t top, int64_t bottom) {
  std::string trace;
  int borrow = 0;
  for (int place = 0; place < digit_count(top); ++place) {
    const int top_digit = digit_at(top, place), bottom_digit = digit_at(bottom, place);
    const int borrow_out = top_digit - bottom_digit - borrow < 0 ? 1 : 0;
    const int digit = top_digit + 10 * borrow_out - bottom_digit - borrow;
    trace += to_string(top_digit) + "-" + to_string(bottom_digit) + "-" + to_string(borrow) + "=" + to_string(digit) +
             " b" + to_string(borrow_out) + "|";
    borrow = borrow_out;
  }
  return trace;
}

std::string product_trace(int64_t a, int64_t b) {
  std::string trace;
  std::vector<int64_t> partials;
  int64_t scale = 1;
  for (int place = 0; place < digit_count(b); ++place, scale *= 10) {
    const int digit = digit_at(b, place);
    trace += to_string(a) + "*" + to_string(digit) + "=" + to_string(a * digit);
    if (place > 0) trace += " <<" + to_string(place) + " =" + to_string(a * digit * scale);
    trace += "|";
    partials.push_back(a * digit * scale);
  }
  // A single partial is already the product; summing it column by column would only repeat it.
  if (partials.size() == 1) return trace + "=" + to_string(a * b);
  return trace + column_sum_trace(partials);
}

// n in decimal with leading zeros up to `width` digits.
std::string padded(int64_t n, int width) {
  std::string text = to_string(n);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(text.size()))), '0') + text;
}

// The problem in canonical form, whatever the prompt's wording: "1234+0056". Sums and differences pad the
// shorter operand to the longer one's digits, so every column of the trace lies the same distance from its
// digits here whatever the operand lengths; products keep their operands as they are (each partial uses all
// of the first operand and one digit of the second).
std::string restatement(int64_t a, char op, int64_t b) {
  if (op == '*') return to_string(a) + op + to_string(b);
  const int width = std::max(digit_count(a), digit_count(b));
  return padded(a, width) + op + padded(b, width);
}

}  // namespace

// Column addition of non-negative terms (shorter terms read as 0 in the high columns), then "=total".
// Fixed width: every column lists each term's digit, the carry in (even 0) and the column sum padded to the
// same number of digits, so a column always spans the same number of tokens. The distance from a column back
// to its digits in the prompt is then constant, which a small model learns far faster than a lookup whose
// offset depends on earlier carries (docs/LOG.md).
std::string column_sum_trace(const std::vector<int64_t>& terms) {
  int width = 0;
  int64_t total = 0;
  for (int64_t term : terms) {
    width = std::max(width, digit_count(term));
    total += term;
  }
  const int sum_digits = digit_count(9 * static_cast<int64_t>(terms.size()) + static_cast<int64_t>(terms.size()));
  std::string trace;
  int carry = 0;
  for (int place = 0; place < width; ++place) {
    int sum = carry;
    for (int64_t term : terms) {
      const int digit = digit_at(term, place);
      trace += to_string(digit) + "+";
      sum += digit;
    }
    std::string padded = to_string(sum);
    padded.insert(0, static_cast<size_t>(std::max(0, sum_digits - static_cast<int>(padded.size()))), '0');
    trace += to_string(carry) + "=" + padded + "|";
    carry = sum / 10;
  }
  return trace + "=" + to_string(total);
}

ArithmeticSolution solve_arithmetic(int64_t a, char op, int64_t b) {
  if (a < 0 || b < 0) throw MuseError("arithmetic traces need non-negative operands");
  switch (op) {
    case '+':
      return {restatement(a, op, b) + "|" + column_sum_trace({a, b}), to_string(a + b)};
    case '-': {
      const std::string head = restatement(a, op, b) + "|";
      if (a >= b) return {head + column_difference_trace(a, b) + "=" + to_string(a - b), to_string(a - b)};
      const int width = std::max(digit_count(a), digit_count(b));
      return {head + padded(b, width) + ">" + padded(a, width) + " so -(" + padded(b, width) + "-" +
                  padded(a, width) + ")|" + column_difference_trace(b, a) + "=" + to_string(a - b),
              to_string(a - b)};
    }
    case '*':
      return {restatement(a, op, b) + "|" + product_trace(a, b), to_string(a * b)};
  }
  throw MuseError(std::string("unknown arithmetic operator '") + op + "'");
}

std::string ArithmeticTask::name() const {
  switch (op_) {
    case ArithmeticOp::Add: return "add";
    case ArithmeticOp::Sub: return "sub";
    case ArithmeticOp::Mul: return "mul";
    case ArithmeticOp::Mixed: return "arith";
  }
  throw MuseError("unknown arithmetic op", ErrorKind::Internal);  // unreachable: the switch covers every op
}

std::string ArithmeticTask::description() const {
  switch (op_) {
    case ArithmeticOp::Add: return "add two numbers column by column with explicit carries; difficulty = digits";
    case ArithmeticOp::Sub: return "subtract two numbers column by column with explicit borrows; difficulty = digits";
    case ArithmeticOp::Mul: return "multiply two numbers via partial products and a column sum; difficulty = digits";
    case ArithmeticOp::Mixed: return "add, subtract or multiply (chosen per problem); difficulty = digits";
  }
  throw MuseError("unknown arithmetic op", ErrorKind::Internal);  // unreachable: the switch covers every op
}

// Multiplication traces grow quadratically with the digits, so mul (and arith, which includes it) stop at 5.
int ArithmeticTask::max_difficulty() const {
  return op_ == ArithmeticOp::Add || op_ == ArithmeticOp::Sub ? 8 : 5;
}

const WordingPool& arithmetic_wordings(char op) {
  // Shared by the three operators: {op} is the symbol, {opword} the word ("plus", "minus", "times").
  static const std::vector<std::string> shared_trained = {
      "{a}{op}{b}",          "{a} {op} {b}",           "{a}{op}{b}=",          "{a} {op} {b} =",
      "What is {a}{op}{b}?", "What is {a} {op} {b}?",  "Compute {a} {op} {b}", "Calculate {a}{op}{b}.",
      "{a} {opword} {b}",    "What is {a} {opword} {b}?", "how much is {a} {op} {b}?", "Work out {a}{op}{b}"};
  static const std::vector<std::string> shared_heldout = {
      "{a} {op} {b} = ?", "Evaluate {a}{op}{b}", "Please find {a} {op} {b}.", "{a} {opword} {b} equals?",
      "Tell me {a}{op}{b}", "what's {a} {opword} {b}"};
  auto pool = [&](std::vector<std::string> trained, std::vector<std::string> heldout) {
    WordingPool p{shared_trained, shared_heldout};
    p.trained.insert(p.trained.end(), trained.begin(), trained.end());
    p.heldout.insert(p.heldout.end(), heldout.begin(), heldout.end());
    validate_wordings("arithmetic", p);
    return p;
  };
  static const WordingPool add = pool({"Add {a} and {b}.", "What is the sum of {a} and {b}?"},
                                      {"Find the sum of {a} and {b}"});
  static const WordingPool sub = pool({"Subtract {b} from {a}.", "What is {a} take away {b}?"},
                                      {"Take {b} away from {a}."});
  static const WordingPool mul = pool({"Multiply {a} by {b}.", "What is the product of {a} and {b}?", "{a} x {b}",
                                       "What is {a} x {b}?"},
                                      {"Find the product of {a} and {b}", "{a}x{b}"});
  return op == '+' ? add : op == '-' ? sub : mul;
}

Example ArithmeticTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  char op = '+';
  switch (op_) {
    case ArithmeticOp::Add: op = '+'; break;
    case ArithmeticOp::Sub: op = '-'; break;
    case ArithmeticOp::Mul: op = '*'; break;
    case ArithmeticOp::Mixed: op = "+-*"[rng.uniform_int(0, 2)]; break;
  }
  // The longer operand has `difficulty` digits, the other any length up to it; either may come first.
  const int other_digits = static_cast<int>(rng.uniform_int(1, difficulty));
  const bool first_longer = rng.bernoulli(0.5);
  const int64_t a = random_operand(rng, first_longer ? difficulty : other_digits);
  const int64_t b = random_operand(rng, first_longer ? other_digits : difficulty);
  ArithmeticSolution solution = solve_arithmetic(a, op, b);
  const char* opword = op == '+' ? "plus" : op == '-' ? "minus" : "times";

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {text_segment(word(arithmetic_wordings(op), surface, rng,
                                      {{"a", to_string(a)}, {"op", std::string(1, op)}, {"b", to_string(b)},
                                       {"opword", opword}}))};
  example.reasoning = std::move(solution.reasoning);
  example.answer = std::move(solution.answer);
  example.meta = {{"a", a}, {"op", std::string(1, op)}, {"b", b}};
  example.problem_key = to_string(a) + op + to_string(b);
  return example;
}

double ArithmeticTask::verify(const Example& example, const std::string& answer) const {
  return trim_answer(answer) == example.answer ? 1.0 : 0.0;
}

}  // namespace muse

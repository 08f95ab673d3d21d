#include "data/tasks/calc.h"

#include "data/tasks/arithmetic.h"

namespace muse {
namespace {

// Uniform over the numbers with exactly `digits` digits (1..18).
int64_t random_digits(Rng& rng, int digits) {
  if (digits == 1) return rng.uniform_int(0, 9);
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  return rng.uniform_int(low, low * 10 - 1);
}

std::string decimal(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  if (negative) v = -v;
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return negative ? "-" + s : s;
}

}  // namespace

std::string CalcTask::description() const {
  return "arithmetic past in-head range (add/sub from 5 digits, mul from 4) solved with the calculator tool";
}

Example CalcTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  static const int kAddDigits[3][2] = {{5, 8}, {9, 12}, {13, 18}};
  static const int kMulDigits[3][2] = {{4, 5}, {6, 7}, {8, 9}};
  const char op = "+-*"[rng.uniform_int(0, 2)];
  const auto& range = op == '*' ? kMulDigits[difficulty - 1] : kAddDigits[difficulty - 1];
  const int longer = static_cast<int>(rng.uniform_int(range[0], range[1]));
  const int other = static_cast<int>(rng.uniform_int(op == '*' ? 2 : 1, longer));
  const bool first_longer = rng.bernoulli(0.5);
  const int64_t a = random_digits(rng, first_longer ? longer : other);
  const int64_t b = random_digits(rng, first_longer ? other : longer);
  const __int128 value = op == '+'   ? static_cast<__int128>(a) + b
                         : op == '-' ? static_cast<__int128>(a) - b
                                     : static_cast<__int128>(a) * b;
  const std::string bare = std::to_string(a) + op + std::to_string(b);
  const char* opword = op == '+' ? "plus" : op == '-' ? "minus" : "times";

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {text_segment(word(arithmetic_wordings(op), surface, rng,
                                      {{"a", std::to_string(a)}, {"op", std::string(1, op)},
                                       {"b", std::to_string(b)}, {"opword", opword}}))};
  example.answer = decimal(value);
  example.reasoning = "=" + example.answer;
  TraceToolCall call;
  call.at = 0;
  call.name = "calculator";
  call.arguments = {{"expression", bare}};
  example.tool_calls.push_back(std::move(call));
  example.meta = {{"a", a}, {"op", std::string(1, op)}, {"b", b}};
  example.problem_key = "calc " + bare;
  return example;
}

double CalcTask::verify(const Example& example, const std::string& answer) const {
  return trim_answer(answer) == example.answer ? 1.0 : 0.0;
}

}  // namespace muse

#include "data/tasks/arithmetic.h"

#include <algorithm>
#include <cstddef>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "util/error.h"

namespace muse {
namespace {

// ---- An independent reader of the trace formats: replays every step and rebuilds the result. --------------

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

int64_t digit_at(int64_t n, int place) {
  for (int i = 0; i < place; ++i) n /= 10;
  return n % 10;
}

int64_t power_of_ten(int exponent) {
  int64_t p = 1;
  while (exponent-- > 0) p *= 10;
  return p;
}

// Replays fixed-width "d+d+...+carry=ss" columns for `terms`, consuming fields from `next`; returns the rebuilt
// sum. Each column must list every term's digit at that place (0 past its end) and the carry in (even 0), then the
// column sum zero-padded to the digit count of 10 * terms; the carry out is that sum's leading digit(s).
int64_t replay_column_sum(const std::vector<std::string>& fields, size_t& next, const std::vector<int64_t>& terms) {
  static const std::regex column(R"((\d+(?:\+\d+)+)=(\d+))");
  int width = 1;
  for (int64_t term : terms) width = std::max(width, static_cast<int>(std::to_string(term).size()));
  const size_t sum_width = std::to_string(10 * terms.size()).size();
  int64_t result = 0, carry = 0;
  for (int place = 0; place < width; ++place, ++next) {
    std::smatch m;
    const std::string& field = fields.at(next);
    const bool matched = std::regex_match(field, m, column);
    EXPECT_TRUE(matched) << field;
    if (!matched) return -1;
    const std::vector<std::string> parts = split(m[1].str(), '+');
    EXPECT_EQ(parts.size(), terms.size() + 1) << field;
    if (parts.size() != terms.size() + 1) return -1;
    int64_t sum = 0;
    for (size_t i = 0; i < terms.size(); ++i) {
      // Compared as text, so a digit is exactly one character.
      EXPECT_EQ(parts[i], std::to_string(digit_at(terms[i], place))) << field << " term " << i;
      sum += digit_at(terms[i], place);
    }
    EXPECT_EQ(parts.back(), std::to_string(carry)) << field << " carry in";
    sum += carry;
    const std::string padded = m[2].str();
    EXPECT_EQ(padded.size(), sum_width) << field << " padding";
    EXPECT_EQ(std::stoll(padded), sum) << field;
    if (padded.size() != sum_width) return -1;
    const int64_t carry_out = std::stoll(padded.substr(0, sum_width - 1));
    EXPECT_EQ(carry_out, sum / 10) << field << " carry out";
    result += (sum % 10) * power_of_ten(place);
    carry = carry_out;
  }
  return result + carry * power_of_ten(width);
}

// Replays fixed-width "t-b-borrow_in=r b<borrow_out>" columns of top - bottom (top >= bottom); returns the
// rebuilt difference.
int64_t replay_column_difference(const std::vector<std::string>& fields, size_t& next, int64_t top, int64_t bottom) {
  static const std::regex column(R"((\d)-(\d)-(\d)=(\d) b(\d))");
  const int width = static_cast<int>(std::to_string(top).size());
  int64_t result = 0, borrow = 0;
  for (int place = 0; place < width; ++place, ++next) {
    std::smatch m;
    const std::string& field = fields.at(next);
    const bool matched = std::regex_match(field, m, column);
    EXPECT_TRUE(matched) << field;
    if (!matched) return -1;
    const int64_t top_digit = std::stoll(m[1].str()), bottom_digit = std::stoll(m[2].str());
    const int64_t borrow_in = std::stoll(m[3].str()), borrow_out = std::stoll(m[5].str());
    EXPECT_EQ(top_digit, digit_at(top, place)) << field;
    EXPECT_EQ(bottom_digit, digit_at(bottom, place)) << field;
    EXPECT_EQ(borrow_in, borrow) << field << " borrow in";
    EXPECT_EQ(borrow_out, top_digit - bottom_digit - borrow_in < 0 ? 1 : 0) << field << " borrow out";
    const int64_t difference = 10 * borrow_out + top_digit - bottom_digit - borrow_in;
    EXPECT_TRUE(difference >= 0 && difference <= 9) << field;
    EXPECT_EQ(std::stoll(m[4].str()), difference) << field;
    result += difference * power_of_ten(place);
    borrow = borrow_out;
  }
  EXPECT_EQ(borrow, 0);
  return result;
}

std::string zero_padded(int64_t n, size_t width) {
  std::string text = std::to_string(n);
  return std::string(width > text.size() ? width - text.size() : 0, '0') + text;
}

// Replays a whole trace of `a op b`: the canonical restatement first (sums and differences zero-padded to
// the longer operand), and "=<answer>" last. Returns the rebuilt result.
int64_t replay(const std::string& trace, int64_t a, char op, int64_t b) {
  const std::vector<std::string> fields = split(trace, '|');
  const size_t width = std::max(std::to_string(a).size(), std::to_string(b).size());
  EXPECT_EQ(fields.at(0), op == '*' ? std::to_string(a) + "*" + std::to_string(b)
                                    : zero_padded(a, width) + op + zero_padded(b, width));
  size_t next = 1;
  int64_t result = 0;
  if (op == '+') {
    result = replay_column_sum(fields, next, {a, b});
  } else if (op == '-' && a >= b) {
    result = replay_column_difference(fields, next, a, b);
  } else if (op == '-') {
    EXPECT_EQ(fields.at(next++), zero_padded(b, width) + ">" + zero_padded(a, width) + " so -(" +
                                     zero_padded(b, width) + "-" + zero_padded(a, width) + ")");
    result = -replay_column_difference(fields, next, b, a);
  } else {
    static const std::regex partial(R"((\d+)\*(\d)=(\d+)(?: <<(\d+) =(\d+))?)");
    std::vector<int64_t> partials;
    for (int place = 0; place < static_cast<int>(std::to_string(b).size()); ++place) {
      std::smatch m;
      const std::string& field = fields.at(next++);
      EXPECT_TRUE(std::regex_match(field, m, partial)) << field;
      if (m.empty()) return -1;
      EXPECT_EQ(std::stoll(m[1].str()), a);
      EXPECT_EQ(std::stoll(m[2].str()), digit_at(b, place));
      EXPECT_EQ(std::stoll(m[3].str()), a * digit_at(b, place));
      EXPECT_EQ(m[4].matched, place > 0) << field;
      partials.push_back(a * digit_at(b, place) * power_of_ten(place));
      if (place > 0) {
        EXPECT_EQ(std::stoll(m[4].str()), place);
        EXPECT_EQ(std::stoll(m[5].str()), partials.back());
      }
    }
    result = partials.size() == 1 ? partials[0] : replay_column_sum(fields, next, partials);
  }
  EXPECT_EQ(fields.at(next++), "=" + std::to_string(result));
  EXPECT_EQ(next, fields.size()) << trace;
  return result;
}

// How many checks replay() fails on `trace`, with the failures intercepted instead of reported.
int replay_failures(const std::string& trace, int64_t a, char op, int64_t b) {
  ::testing::TestPartResultArray failures;
  {
    const ::testing::ScopedFakeTestPartResultReporter intercept(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    replay(trace, a, op, b);
  }
  return failures.size();
}

// ---- Tests ------------------------------------------------------------------------------------------------

TEST(ArithmeticTrace, DocumentedFormats) {
  EXPECT_EQ(solve_arithmetic(47, '+', 85).reasoning, "47+85|7+5+0=12|4+8+1=13|=132");
  EXPECT_EQ(solve_arithmetic(47, '+', 85).answer, "132");
  EXPECT_EQ(solve_arithmetic(1, '+', 2).reasoning, "1+2|1+2+0=03|=3");
  EXPECT_EQ(solve_arithmetic(1234, '+', 56).reasoning, "1234+0056|4+6+0=10|3+5+1=09|2+0+0=02|1+0+0=01|=1290");
  EXPECT_EQ(solve_arithmetic(85, '-', 47).reasoning, "85-47|5-7-0=8 b1|8-4-1=3 b0|=38");
  EXPECT_EQ(solve_arithmetic(85, '-', 47).answer, "38");
  EXPECT_EQ(solve_arithmetic(47, '-', 85).reasoning, "47-85|85>47 so -(85-47)|5-7-0=8 b1|8-4-1=3 b0|=-38");
  EXPECT_EQ(solve_arithmetic(47, '-', 85).answer, "-38");
  EXPECT_EQ(solve_arithmetic(47, '*', 85).reasoning,
            "47*85|47*5=235|47*8=376 <<1 =3760|5+0+0=05|3+6+0=09|2+7+0=09|0+3+0=03|=3995");
  EXPECT_EQ(solve_arithmetic(47, '*', 85).answer, "3995");
  // Three partials: four numbers per column, and a column sum that carries.
  EXPECT_EQ(solve_arithmetic(99, '*', 999).reasoning,
            "99*999|99*9=891|99*9=891 <<1 =8910|99*9=891 <<2 =89100|1+0+0+0=01|9+1+0+0=10|8+9+1+1=19|0+8+9+1=18|"
            "0+0+8+1=09|=98901");
  EXPECT_EQ(solve_arithmetic(99, '*', 999).answer, "98901");
}

TEST(ArithmeticTrace, EdgeCases) {
  EXPECT_EQ(solve_arithmetic(0, '+', 0).reasoning, "0+0|0+0+0=00|=0");
  EXPECT_EQ(solve_arithmetic(9, '+', 9).reasoning, "9+9|9+9+0=18|=18");
  // A shorter term is padded in the restatement and reads as 0 in the high columns.
  EXPECT_EQ(solve_arithmetic(5, '+', 123).reasoning, "005+123|5+3+0=08|0+2+0=02|0+1+0=01|=128");
  EXPECT_EQ(solve_arithmetic(5, '-', 5).reasoning, "5-5|5-5-0=0 b0|=0");
  EXPECT_EQ(solve_arithmetic(100, '-', 99).reasoning, "100-099|0-9-0=1 b1|0-9-1=0 b1|1-0-1=0 b0|=1");
  EXPECT_EQ(solve_arithmetic(0, '-', 5).reasoning, "0-5|5>0 so -(5-0)|5-0-0=5 b0|=-5");
  EXPECT_EQ(solve_arithmetic(5, '-', 123).reasoning,
            "005-123|123>005 so -(123-005)|3-5-0=8 b1|2-0-1=1 b0|1-0-0=1 b0|=-118");
  EXPECT_EQ(solve_arithmetic(4, '*', 7).reasoning, "4*7|4*7=28|=28");
  EXPECT_EQ(solve_arithmetic(10, '*', 10).reasoning,
            "10*10|10*0=0|10*1=10 <<1 =100|0+0+0=00|0+0+0=00|0+1+0=01|=100");
  EXPECT_THROW(solve_arithmetic(-1, '+', 2), MuseError);
  EXPECT_THROW(solve_arithmetic(1, '/', 2), MuseError);
}

// Within one trace every column field spans the same number of tokens: digits and operators are one character
// and one token each, so equal string lengths mean equal token counts and a constant distance from each column
// back to its digits in the prompt.
TEST(ArithmeticTrace, ColumnsOfOneTraceHaveEqualWidth) {
  for (const ArithmeticOp op : {ArithmeticOp::Add, ArithmeticOp::Sub, ArithmeticOp::Mul}) {
    const ArithmeticTask task(op);
    Rng rng(seed_mix(23, static_cast<int>(op)));
    for (int difficulty = task.min_difficulty(); difficulty <= task.max_difficulty(); ++difficulty) {
      for (int i = 0; i < 200; ++i) {
        const Example example = task.generate(rng, difficulty);
        std::vector<std::string> fields = split(example.reasoning, '|');
        ASSERT_EQ(fields.back(), "=" + example.answer) << example.reasoning;
        fields.pop_back();
        fields.erase(fields.begin());  // the restatement
        const int64_t a = example.meta.at("a").get<int64_t>(), b = example.meta.at("b").get<int64_t>();
        const size_t a_digits = std::to_string(a).size(), b_digits = std::to_string(b).size();
        size_t expected = 0;
        if (op == ArithmeticOp::Add) {
          expected = 8;  // "d+d+c=ss"
        } else if (op == ArithmeticOp::Sub) {
          if (fields.front().find('>') != std::string::npos) fields.erase(fields.begin());  // the "-(...)" preamble
          expected = 10;  // "t-b-c=r bB"
        } else {
          // The partial product fields come first, one per digit of the second operand; a single partial has no sum.
          const size_t partials = b_digits;
          fields.erase(fields.begin(), fields.begin() + static_cast<std::ptrdiff_t>(partials));
          if (partials == 1) {
            ASSERT_TRUE(fields.empty()) << example.reasoning;
            continue;
          }
          expected = 2 * (partials + 1) - 1 + 1 + 2;  // partials+1 one-digit numbers, '+'s, '=', 2-digit sum
        }
        // One column per digit of the widest term: the longer operand for add and sub; for mul the widest
        // partial (the last one unless the second operand's leading digits make it smaller).
        const size_t columns = fields.size(), d = static_cast<size_t>(difficulty);
        if (op == ArithmeticOp::Mul) {
          size_t widest = 1;
          int64_t scale = 1;
          for (size_t place = 0; place < b_digits; ++place, scale *= 10)
            widest = std::max(widest, std::to_string(a * ((b / scale) % 10) * scale).size());
          ASSERT_EQ(columns, widest) << example.reasoning;
        } else {
          ASSERT_EQ(columns, d) << example.reasoning;
        }
        for (const std::string& field : fields) {
          ASSERT_EQ(field.size(), fields.front().size()) << example.reasoning;
          ASSERT_EQ(field.size(), expected) << example.reasoning;
        }
      }
    }
  }
}

// The replay must catch each kind of slip, or the replay test below would prove nothing.
TEST(ArithmeticTrace, ReplayRejectsBrokenTraces) {
  EXPECT_EQ(replay_failures("47+85|7+5+0=12|4+8+1=13|=132", 47, '+', 85), 0);
  EXPECT_GT(replay_failures("7+5+0=12|4+8+1=13|=132", 47, '+', 85), 0);          // no restatement
  EXPECT_GT(replay_failures("1234+56|4+6+0=10|3+5+1=09|2+0+0=02|1+0+0=01|=1290", 1234, '+', 56), 0);  // unpadded
  EXPECT_GT(replay_failures("47+85|7+5+0=12|4+8+0=12|=122", 47, '+', 85), 0);    // carry in is not the carry out
  EXPECT_GT(replay_failures("47+85|7+5=12|4+8+1=13|=132", 47, '+', 85), 0);      // carry in 0 left out
  EXPECT_GT(replay_failures("1+2|1+2+0=3|=3", 1, '+', 2), 0);                    // sum not padded
  EXPECT_GT(replay_failures("1+2|1+2+0=003|=3", 1, '+', 2), 0);                  // sum padded too far
  EXPECT_GT(replay_failures("47+85|7+5+0=12 c1|4+8+1=13 c1|=132", 47, '+', 85), 0);  // old " cK" suffix
  EXPECT_GT(replay_failures("47+85|7+6+0=13|4+8+1=13|=133", 47, '+', 85), 0);    // wrong digit
  EXPECT_EQ(replay_failures("85-47|5-7-0=8 b1|8-4-1=3 b0|=38", 85, '-', 47), 0);
  EXPECT_GT(replay_failures("85-47|5-7-0=8 b0|8-4-0=4 b0|=48", 85, '-', 47), 0);  // borrow out wrong
  EXPECT_GT(replay_failures("85-47|5-7-0=8 b1|8-4-0=4 b0|=48", 85, '-', 47), 0);  // borrow in is not the borrow out
  EXPECT_GT(replay_failures("85-47|5-7-0=8 b1|8-4-1=3|=38", 85, '-', 47), 0);     // borrow out 0 left out
  EXPECT_GT(replay_failures("85-47|15-7=8 b1|8-4-1=3|=38", 85, '-', 47), 0);      // old format
  EXPECT_GT(replay_failures("47-85|5-7-0=8 b1|8-4-1=3 b0|=38", 47, '-', 85), 0);  // negative without the preamble
  EXPECT_EQ(replay_failures("47*85|47*5=235|47*8=376 <<1 =3760|5+0+0=05|3+6+0=09|2+7+0=09|0+3+0=03|=3995", 47,
                            '*', 85),
            0);
  EXPECT_GT(replay_failures("47*85|47*5=235|47*8=376 <<1 =3760|5+0=5|3+6=9|2+7=9|0+3=3|=3995", 47, '*', 85), 0);
}

TEST(ArithmeticTask, ThousandsOfProblemsAreRightAndReplayStepByStep) {
  // Whatever the wording, the prompt holds the two operands in order (the first two numbers it has).
  static const std::regex number(R"(\d+)");
  for (const std::string name : {"add", "sub", "mul", "arith"}) {
    const ArithmeticOp op = name == "add"   ? ArithmeticOp::Add
                            : name == "sub" ? ArithmeticOp::Sub
                            : name == "mul" ? ArithmeticOp::Mul
                                            : ArithmeticOp::Mixed;
    const ArithmeticTask task(op);
    Rng rng(seed_mix(11, op == ArithmeticOp::Mixed));
    for (int difficulty = task.min_difficulty(); difficulty <= task.max_difficulty(); ++difficulty) {
      for (int i = 0; i < 400; ++i) {
        const Example example = task.generate(rng, difficulty);
        const std::string prompt = segments_text(example.prompt);
        std::multiset<std::string> numbers;
        for (std::sregex_iterator it(prompt.begin(), prompt.end(), number), end; it != end; ++it)
          numbers.insert(it->str());
        const int64_t a = example.meta.at("a").get<int64_t>(), b = example.meta.at("b").get<int64_t>();
        ASSERT_EQ(numbers, (std::multiset<std::string>{std::to_string(a), std::to_string(b)})) << prompt;
        const char symbol = example.meta.at("op").get<std::string>().at(0);
        ASSERT_EQ(std::max(std::to_string(a).size(), std::to_string(b).size()), static_cast<size_t>(difficulty))
            << prompt;
        ASSERT_EQ(example.problem_key, std::to_string(a) + symbol + std::to_string(b));
        if (op != ArithmeticOp::Mixed) {
          ASSERT_EQ(symbol, "+-*"[static_cast<int>(op)]);
        }
        const int64_t expected = symbol == '+' ? a + b : symbol == '-' ? a - b : a * b;
        ASSERT_EQ(example.answer, std::to_string(expected)) << prompt;
        ASSERT_EQ(replay(example.reasoning, a, symbol, b), expected) << prompt << "  " << example.reasoning;
        ASSERT_EQ(example.meta.at("a").get<int64_t>(), a);
        ASSERT_EQ(example.meta.at("b").get<int64_t>(), b);
        ASSERT_EQ(task.verify(example, example.answer), 1.0);
        ASSERT_EQ(task.verify(example, std::to_string(expected + 1)), 0.0);
        ASSERT_EQ(task.verify(example, std::to_string(-expected - 1)), 0.0);
      }
    }
  }
}

TEST(ArithmeticTask, VerifyAcceptsOnlyTheExactInteger) {
  const ArithmeticTask task(ArithmeticOp::Sub);
  Example example;
  example.answer = "-38";
  EXPECT_EQ(task.verify(example, "-38"), 1.0);
  EXPECT_EQ(task.verify(example, "  -38 \n"), 1.0);
  for (const char* wrong : {"38", "-37", "- 38", "-038", "-38.0", "-38-", "=-38", "minus 38", "", " ", "-3 8"})
    EXPECT_EQ(task.verify(example, wrong), 0.0) << wrong;
  example.answer = "132";
  EXPECT_EQ(task.verify(example, "132"), 1.0);
  for (const char* wrong : {"+132", "0132", "132.0", "1.32e2", "132abc"})
    EXPECT_EQ(task.verify(example, wrong), 0.0) << wrong;
}

TEST(ArithmeticTask, DifficultyRanges) {
  EXPECT_EQ(ArithmeticTask(ArithmeticOp::Add).max_difficulty(), 8);
  EXPECT_EQ(ArithmeticTask(ArithmeticOp::Sub).max_difficulty(), 8);
  EXPECT_EQ(ArithmeticTask(ArithmeticOp::Mul).max_difficulty(), 5);
  EXPECT_EQ(ArithmeticTask(ArithmeticOp::Mixed).max_difficulty(), 5);
  Rng rng(0);
  EXPECT_THROW(ArithmeticTask(ArithmeticOp::Add).generate(rng, 0), MuseError);
  EXPECT_THROW(ArithmeticTask(ArithmeticOp::Add).generate(rng, 9), MuseError);
  EXPECT_THROW(ArithmeticTask(ArithmeticOp::Mul).generate(rng, 6), MuseError);
}

TEST(ArithmeticTask, OperandsCoverTheirRange) {
  const ArithmeticTask task(ArithmeticOp::Add);
  Rng rng(5);
  std::set<int64_t> one_digit;
  int64_t smallest = INT64_MAX, largest = 0;
  for (int i = 0; i < 3000; ++i) {
    one_digit.insert(task.generate(rng, 1).meta.at("a").get<int64_t>());
    const auto meta = task.generate(rng, 3).meta;
    const int64_t three_digit = std::max(meta.at("a").get<int64_t>(), meta.at("b").get<int64_t>());
    smallest = std::min(smallest, three_digit);
    largest = std::max(largest, three_digit);
  }
  EXPECT_EQ(one_digit.size(), 10u);  // 0..9, zero included
  EXPECT_LT(smallest, 110);
  EXPECT_GT(largest, 990);
}

TEST(ArithmeticTask, MixedDrawsEveryOperator) {
  const ArithmeticTask task(ArithmeticOp::Mixed);
  Rng rng(1);
  std::set<std::string> ops;
  for (int i = 0; i < 100; ++i) ops.insert(task.generate(rng, 2).meta.at("op").get<std::string>());
  EXPECT_EQ(ops, (std::set<std::string>{"+", "-", "*"}));
  EXPECT_EQ(task.generate(rng, 2).task, "arith");
}

TEST(ArithmeticTask, SameSeedSameProblems) {
  const ArithmeticTask task(ArithmeticOp::Mixed);
  Rng first(42), second(42), other(43);
  std::string first_prompts, other_prompts;
  for (int i = 0; i < 100; ++i) {
    const Example a = task.generate(first, 4), b = task.generate(second, 4);
    EXPECT_EQ(segments_text(a.prompt), segments_text(b.prompt));
    EXPECT_EQ(a.reasoning, b.reasoning);
    first_prompts += segments_text(a.prompt) + ";";
    other_prompts += segments_text(task.generate(other, 4).prompt) + ";";
  }
  EXPECT_NE(first_prompts, other_prompts);
}

TEST(ArithmeticTask, TracesStayShort) {
  // A trace costs about one token per character, so these bound the thinking span at the top difficulty.
  // Each includes the restatement (operands padded: 18 characters at 8 digits, 12 for 5-digit products).
  EXPECT_EQ(solve_arithmetic(99999999, '+', 99999999).reasoning.size(), 100u);  // every column carries
  EXPECT_EQ(solve_arithmetic(19999999, '-', 20000000).reasoning.size(), 151u);  // negative, 7 of 8 columns borrow
  EXPECT_EQ(solve_arithmetic(99999, '*', 99999).reasoning.size(), 306u);
  const std::pair<ArithmeticOp, size_t> limits[] = {
      {ArithmeticOp::Add, 122}, {ArithmeticOp::Sub, 168}, {ArithmeticOp::Mul, 332}};
  for (const auto& [op, limit] : limits) {
    const ArithmeticTask task(op);
    Rng rng(8);
    for (int i = 0; i < 2000; ++i) ASSERT_LE(task.generate(rng, task.max_difficulty()).reasoning.size(), limit);
  }
}

}  // namespace
}  // namespace muse

namespace muse {
namespace {

// The lengths of the two operands are independent: at difficulty 4 every pair (4, k) and (k, 4) occurs.
TEST(ArithmeticTask, OperandLengthsAreIndependent) {
  const ArithmeticTask task(ArithmeticOp::Add);
  Rng rng(17);
  std::set<std::pair<size_t, size_t>> lengths;
  for (int i = 0; i < 2000; ++i) {
    const auto meta = task.generate(rng, 4).meta;
    const size_t a = std::to_string(meta.at("a").get<int64_t>()).size();
    const size_t b = std::to_string(meta.at("b").get<int64_t>()).size();
    ASSERT_EQ(std::max(a, b), 4u);
    lengths.insert({a, b});
  }
  EXPECT_EQ(lengths.size(), 7u);  // (4,1..4) and (1..3,4)
}

// Which template of the pool a prompt was worded with (-1: none), by filling each with the example's slots.
int template_of(const std::vector<std::string>& templates, const Example& example) {
  const std::string op = example.meta.at("op").get<std::string>();
  const WordingSlots slots = {{"a", std::to_string(example.meta.at("a").get<int64_t>())},
                              {"b", std::to_string(example.meta.at("b").get<int64_t>())},
                              {"op", op},
                              {"opword", op == "+" ? "plus" : op == "-" ? "minus" : "times"}};
  for (size_t i = 0; i < templates.size(); ++i)
    if (fill_wording(templates[i], slots) == undecorated(segments_text(example.prompt))) return static_cast<int>(i);
  return -1;
}

TEST(ArithmeticTask, TrainingWordingsAndHeldOutWordingsAreApart) {
  for (const char op : {'+', '-', '*'}) {
    const WordingPool& pool = arithmetic_wordings(op);
    EXPECT_NO_THROW(validate_wordings("arithmetic", pool));
    EXPECT_GE(pool.trained.size(), 8u);
    EXPECT_GE(pool.heldout.size(), 4u);
    const ArithmeticTask task(op == '+' ? ArithmeticOp::Add : op == '-' ? ArithmeticOp::Sub : ArithmeticOp::Mul);
    Rng rng(29);
    std::set<int> trained_used, heldout_used;
    for (int i = 0; i < 1500; ++i) {
      const Example trained = task.generate(rng, 2, Surface::Trained);
      ASSERT_EQ(template_of(pool.heldout, trained), -1) << segments_text(trained.prompt);
      const int t = template_of(pool.trained, trained);
      ASSERT_GE(t, 0) << segments_text(trained.prompt);
      trained_used.insert(t);
      const Example heldout = task.generate(rng, 2, Surface::Heldout);
      ASSERT_EQ(template_of(pool.trained, heldout), -1) << segments_text(heldout.prompt);
      const int h = template_of(pool.heldout, heldout);
      ASSERT_GE(h, 0) << segments_text(heldout.prompt);
      heldout_used.insert(h);
      // The problem, not the wording, decides the split: the same problem is in one split whatever its words.
      ASSERT_EQ(split_of(trained), split_of(trained.problem_key));
    }
    EXPECT_EQ(trained_used.size(), pool.trained.size()) << op;  // every template is used
    EXPECT_EQ(heldout_used.size(), pool.heldout.size()) << op;
  }
}

}  // namespace
}  // namespace muse

#include "data/tasks/arithmetic.h"

#include <regex>
#include <set>

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

// Replays "d+d(+carry)=s( cK)" columns for `terms`, consuming fields from `next`; returns the rebuilt sum.
int64_t replay_column_sum(const std::vector<std::string>& fields, size_t& next, const std::vector<int64_t>& terms) {
  static const std::regex column(R"((\d+(?:\+\d+)*)=(\d+)(?: c(\d+))?)");
  int width = 1;
  for (int64_t term : terms) width = std::max(width, static_cast<int>(std::to_string(term).size()));
  int64_t result = 0, carry = 0;
  for (int place = 0; place < width; ++place, ++next) {
    std::smatch m;
    const std::string& field = fields.at(next);
    EXPECT_TRUE(std::regex_match(field, m, column)) << field;
    if (m.empty()) return -1;
    std::vector<int64_t> parts;
    for (const auto& part : split(m[1].str(), '+'))
      parts.push_back(std::stoll(part));
    EXPECT_EQ(parts.size(), terms.size() + (carry ? 1 : 0)) << field;
    int64_t sum = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      const int64_t expected = i < terms.size() ? digit_at(terms[i], place) : carry;
      EXPECT_EQ(parts[i], expected) << field;
      sum += parts[i];
    }
    EXPECT_EQ(std::stoll(m[2].str()), sum) << field;
    EXPECT_EQ(m[3].matched ? std::stoll(m[3].str()) : 0, sum / 10) << field;
    result += (sum % 10) * power_of_ten(place);
    carry = sum / 10;
  }
  return result + carry * power_of_ten(width);
}

// Replays "(1)d-d(-1)=r( b1)" columns of top - bottom (top >= bottom); returns the rebuilt difference.
int64_t replay_column_difference(const std::vector<std::string>& fields, size_t& next, int64_t top, int64_t bottom) {
  static const std::regex column(R"((1?)(\d)-(\d)(-1)?=(\d)( b1)?)");
  const int width = static_cast<int>(std::to_string(top).size());
  int64_t result = 0, borrow = 0;
  for (int place = 0; place < width; ++place, ++next) {
    std::smatch m;
    const std::string& field = fields.at(next);
    EXPECT_TRUE(std::regex_match(field, m, column)) << field;
    if (m.empty()) return -1;
    const bool borrows = m[1].matched && m[1].length() > 0;
    EXPECT_EQ(std::stoll(m[2].str()), digit_at(top, place)) << field;
    EXPECT_EQ(std::stoll(m[3].str()), digit_at(bottom, place)) << field;
    EXPECT_EQ(m[4].matched, borrow == 1) << field;
    EXPECT_EQ(m[6].matched, borrows) << field;
    const int64_t difference = (borrows ? 10 : 0) + digit_at(top, place) - digit_at(bottom, place) - borrow;
    EXPECT_TRUE(difference >= 0 && difference <= 9) << field;
    EXPECT_EQ(std::stoll(m[5].str()), difference) << field;
    result += difference * power_of_ten(place);
    borrow = borrows;
  }
  EXPECT_EQ(borrow, 0);
  return result;
}

// Replays a whole trace of `a op b`; the trace must end with "=<answer>". Returns the rebuilt result.
int64_t replay(const std::string& trace, int64_t a, char op, int64_t b) {
  const std::vector<std::string> fields = split(trace, '|');
  size_t next = 0;
  int64_t result = 0;
  if (op == '+') {
    result = replay_column_sum(fields, next, {a, b});
  } else if (op == '-' && a >= b) {
    result = replay_column_difference(fields, next, a, b);
  } else if (op == '-') {
    EXPECT_EQ(fields.at(next++), std::to_string(b) + ">" + std::to_string(a) + " so -(" + std::to_string(b) + "-" +
                                     std::to_string(a) + ")");
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

// ---- Tests ------------------------------------------------------------------------------------------------

TEST(ArithmeticTrace, DocumentedFormats) {
  EXPECT_EQ(solve_arithmetic(47, '+', 85).reasoning, "7+5=12 c1|4+8+1=13 c1|=132");
  EXPECT_EQ(solve_arithmetic(47, '+', 85).answer, "132");
  EXPECT_EQ(solve_arithmetic(85, '-', 47).reasoning, "15-7=8 b1|8-4-1=3|=38");
  EXPECT_EQ(solve_arithmetic(85, '-', 47).answer, "38");
  EXPECT_EQ(solve_arithmetic(47, '-', 85).reasoning, "85>47 so -(85-47)|15-7=8 b1|8-4-1=3|=-38");
  EXPECT_EQ(solve_arithmetic(47, '-', 85).answer, "-38");
  EXPECT_EQ(solve_arithmetic(47, '*', 85).reasoning, "47*5=235|47*8=376 <<1 =3760|5+0=5|3+6=9|2+7=9|0+3=3|=3995");
  EXPECT_EQ(solve_arithmetic(47, '*', 85).answer, "3995");
}

TEST(ArithmeticTrace, EdgeCases) {
  EXPECT_EQ(solve_arithmetic(0, '+', 0).reasoning, "0+0=0|=0");
  EXPECT_EQ(solve_arithmetic(9, '+', 9).reasoning, "9+9=18 c1|=18");
  EXPECT_EQ(solve_arithmetic(5, '-', 5).reasoning, "5-5=0|=0");
  EXPECT_EQ(solve_arithmetic(100, '-', 99).reasoning, "10-9=1 b1|10-9-1=0 b1|1-0-1=0|=1");
  EXPECT_EQ(solve_arithmetic(4, '*', 7).reasoning, "4*7=28|=28");
  EXPECT_EQ(solve_arithmetic(10, '*', 10).reasoning, "10*0=0|10*1=10 <<1 =100|0+0=0|0+0=0|0+1=1|=100");
  // Three partials can carry more than 1.
  EXPECT_EQ(solve_arithmetic(99, '*', 999).reasoning,
            "99*9=891|99*9=891 <<1 =8910|99*9=891 <<2 =89100|1+0+0=1|9+1+0=10 c1|8+9+1+1=19 c1|0+8+9+1=18 c1|"
            "0+0+8+1=9|=98901");
  EXPECT_THROW(solve_arithmetic(-1, '+', 2), MuseError);
  EXPECT_THROW(solve_arithmetic(1, '/', 2), MuseError);
}

TEST(ArithmeticTask, ThousandsOfProblemsAreRightAndReplayStepByStep) {
  static const std::regex prompt_pattern(R"((\d+)([-+*])(\d+))");
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
        std::smatch m;
        ASSERT_TRUE(std::regex_match(prompt, m, prompt_pattern)) << prompt;
        const int64_t a = std::stoll(m[1].str()), b = std::stoll(m[3].str());
        const char symbol = m[2].str()[0];
        ASSERT_EQ(m[1].length(), difficulty) << prompt;
        ASSERT_EQ(m[3].length(), difficulty) << prompt;
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
    const int64_t three_digit = task.generate(rng, 3).meta.at("b").get<int64_t>();
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
  EXPECT_EQ(solve_arithmetic(99999999, '+', 99999999).reasoning.size(), 104u);  // every column carries
  EXPECT_EQ(solve_arithmetic(19999999, '-', 20000000).reasoning.size(), 135u);  // negative, every column borrows
  EXPECT_EQ(solve_arithmetic(99999, '*', 99999).reasoning.size(), 312u);
  const std::pair<ArithmeticOp, size_t> limits[] = {
      {ArithmeticOp::Add, 104}, {ArithmeticOp::Sub, 150}, {ArithmeticOp::Mul, 320}};
  for (const auto& [op, limit] : limits) {
    const ArithmeticTask task(op);
    Rng rng(8);
    for (int i = 0; i < 2000; ++i) ASSERT_LE(task.generate(rng, task.max_difficulty()).reasoning.size(), limit);
  }
}

}  // namespace
}  // namespace muse

#include "data/tasks/countdown.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "util/error.h"

namespace muse {
namespace {

Example problem(int64_t target, std::vector<int64_t> numbers) {
  Example example;
  example.task = "countdown";
  example.meta = {{"target", target}, {"numbers", numbers}};
  return example;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

// The integers written in `text`, in order.
std::vector<int64_t> numbers_in(const std::string& text) {
  std::vector<int64_t> numbers;
  static const std::regex digits(R"(\d+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), digits); it != std::sregex_iterator(); ++it)
    numbers.push_back(std::stoll(it->str()));
  return numbers;
}

bool is_sub_multiset(std::vector<int64_t> part, std::vector<int64_t> whole) {
  std::sort(part.begin(), part.end());
  std::sort(whole.begin(), whole.end());
  return std::includes(whole.begin(), whole.end(), part.begin(), part.end());
}

// An evaluator independent of the task's: doubles and a different grammar walk, for well-formed answers only.
double evaluate(const std::string& text, size_t& pos);
double evaluate_factor(const std::string& text, size_t& pos) {
  if (text[pos] == '(') {
    const double value = evaluate(text, ++pos);
    ++pos;  // ')'
    return value;
  }
  size_t length = 0;
  const double value = std::stod(text.substr(pos), &length);
  pos += length;
  return value;
}
double evaluate_term(const std::string& text, size_t& pos) {
  double value = evaluate_factor(text, pos);
  while (pos < text.size() && (text[pos] == '*' || text[pos] == '/')) {
    const char op = text[pos++];
    const double right = evaluate_factor(text, pos);
    value = op == '*' ? value * right : value / right;
  }
  return value;
}
double evaluate(const std::string& text, size_t& pos) {
  double value = evaluate_term(text, pos);
  while (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const char op = text[pos++];
    const double right = evaluate_term(text, pos);
    value = op == '+' ? value + right : value - right;
  }
  return value;
}

// Replays the search log: every step uses available values, is exact, and only the last line reaches the target.
// Returns the given numbers the successful line consumed: its operands minus the results it fed back in.
std::vector<int64_t> replay_trace(const std::string& trace, int64_t target, const std::vector<int64_t>& numbers) {
  static const std::regex step_pattern(R"((\d+)([-+*/])(\d+)=(\d+))");
  const std::vector<std::string> lines = split(trace, '|');
  std::vector<int64_t> operands, fed_back;  // of the successful line
  for (size_t l = 0; l < lines.size(); ++l) {
    const bool last = l + 1 == lines.size();
    const std::string& line = lines[l];
    EXPECT_EQ(line.substr(line.size() - 3), last ? " ok" : " no") << trace;
    std::multiset<int64_t> pool(numbers.begin(), numbers.end());
    const std::vector<std::string> steps = split(line.substr(0, line.size() - 3), ' ');
    for (size_t s = 0; s < steps.size(); ++s) {
      std::smatch m;
      EXPECT_TRUE(std::regex_match(steps[s], m, step_pattern)) << steps[s] << " in " << trace;
      if (m.empty()) return {};
      const int64_t a = std::stoll(m[1].str()), b = std::stoll(m[3].str()), c = std::stoll(m[4].str());
      const char op = m[2].str()[0];
      for (int64_t operand : {a, b}) {
        auto it = pool.find(operand);
        EXPECT_NE(it, pool.end()) << operand << " is not available in " << trace;
        if (it == pool.end()) return {};
        pool.erase(it);
        if (last) operands.push_back(operand);
      }
      if (op == '/') {
        EXPECT_EQ(a % b, 0) << steps[s];
      }
      EXPECT_EQ(c, op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b) << steps[s];
      EXPECT_GT(c, 0) << steps[s];
      EXPECT_EQ(c == target, last && s + 1 == steps.size()) << steps[s] << " in " << trace;
      pool.insert(c);
      if (last && s + 1 < steps.size()) fed_back.push_back(c);
    }
  }
  for (int64_t result : fed_back) operands.erase(std::find(operands.begin(), operands.end(), result));
  return operands;
}

TEST(Countdown, ThousandsOfProblemsAreSolvedByTheirReferenceAndTrace) {
  const CountdownTask task;
  static const std::regex prompt_pattern(R"(target (\d+) from((?: \d+)+))");
  Rng rng(2024);
  for (int difficulty = 3; difficulty <= 6; ++difficulty) {
    for (int i = 0; i < 1500; ++i) {
      const Example example = task.generate(rng, difficulty);
      const std::string prompt = segments_text(example.prompt);
      // Whatever the wording, the trace opens with the canonical form, then the search.
      const size_t bar = example.reasoning.find('|');
      ASSERT_NE(bar, std::string::npos) << example.reasoning;
      const std::string canonical = example.reasoning.substr(0, bar), search = example.reasoning.substr(bar + 1);
      ASSERT_EQ(canonical, example.problem_key);
      std::smatch m;
      ASSERT_TRUE(std::regex_match(canonical, m, prompt_pattern)) << canonical;
      const int64_t target = std::stoll(m[1].str());
      const std::vector<int64_t> numbers = numbers_in(m[2].str());
      ASSERT_EQ(example.meta.at("target").get<int64_t>(), target);
      ASSERT_EQ(example.meta.at("numbers").get<std::vector<int64_t>>(), numbers);
      ASSERT_EQ(numbers.size(), static_cast<size_t>(difficulty));
      for (int64_t n : numbers) ASSERT_TRUE((n >= 1 && n <= 25) || n == 50 || n == 75 || n == 100) << n;
      ASSERT_GE(target, 10);
      ASSERT_LE(target, 999);
      ASSERT_EQ(std::count(numbers.begin(), numbers.end(), target), 0) << prompt;
      // The prompt names the target and every number (in order), in whatever words.
      std::vector<int64_t> in_prompt = numbers_in(prompt);
      auto at = std::find(in_prompt.begin(), in_prompt.end(), target);
      ASSERT_NE(at, in_prompt.end()) << prompt;
      in_prompt.erase(at);
      ASSERT_EQ(in_prompt, numbers) << prompt;

      ASSERT_EQ(task.verify(example, example.answer), 1.0) << prompt << " -> " << example.answer;
      size_t pos = 0;
      ASSERT_NEAR(evaluate(example.answer, pos), static_cast<double>(target), 1e-9) << example.answer;
      ASSERT_EQ(pos, example.answer.size()) << example.answer;
      ASSERT_TRUE(is_sub_multiset(numbers_in(example.answer), numbers)) << prompt << " -> " << example.answer;

      ASSERT_LE(search.size(), countdown_trace_budget(difficulty)) << example.reasoning;
      std::vector<int64_t> consumed = replay_trace(search, target, numbers);
      std::vector<int64_t> used = numbers_in(example.answer);
      std::sort(consumed.begin(), consumed.end());
      std::sort(used.begin(), used.end());
      ASSERT_EQ(consumed, used) << "answer and final trace line use different numbers: " << example.reasoning;
      ASSERT_EQ(task.verify(problem(target + 1, numbers), example.answer), 0.0);
    }
  }
}

TEST(Countdown, TraceBudgetGrowsWithDifficulty) {
  EXPECT_EQ(countdown_trace_budget(3), 120u);
  EXPECT_EQ(countdown_trace_budget(6), 300u);
  // Dead ends actually appear, and so do traces that go straight to the solution.
  const CountdownTask task;
  Rng rng(4);
  int with_dead_ends = 0;
  for (int i = 0; i < 500; ++i) with_dead_ends += task.generate(rng, 5).reasoning.find(" no|") != std::string::npos;
  EXPECT_GT(with_dead_ends, 200);
  EXPECT_LT(with_dead_ends, 500);
}

TEST(Countdown, LargeNumbersAreOccasional) {
  const CountdownTask task;
  Rng rng(6);
  int large = 0, total = 0;
  for (int i = 0; i < 2000; ++i) {
    const Example example = task.generate(rng, 6);  // kept alive: the loop ranges over a reference into it
    for (const auto& n : example.meta.at("numbers")) {
      large += n.get<int64_t>() > 25;
      ++total;
    }
  }
  // 1/8 of the draws; slightly fewer survive because huge values make in-range targets harder to build.
  EXPECT_GT(large, total / 14);
  EXPECT_LT(large, total / 6);
}

TEST(Countdown, VerifyAcceptsAnyCorrectExpression) {
  const CountdownTask task;
  const Example example = problem(24, {3, 7, 8, 2});
  for (const char* answer : {"8*3", "3*8", " 8 * 3 \n", "(8*3)", "((8))*(3)", "(7-3)*(8-2)", "2*(7+8-3)"})
    EXPECT_EQ(task.verify(example, answer), 1.0) << answer;
  // Exact rational arithmetic: intermediate fractions are fine when the result is the integer target.
  EXPECT_EQ(task.verify(problem(24, {8, 3, 9}), "8/3*9"), 1.0);
  EXPECT_EQ(task.verify(problem(24, {8, 3, 9}), "8/3"), 0.0);
}

TEST(Countdown, VerifyRejectsReusedUnknownAndMalformedAnswers) {
  const CountdownTask task;
  const Example example = problem(24, {3, 7, 8, 2});
  for (const char* answer : {
           "3*8*1",          // 1 is not given
           "24",             // the target itself is not a given number
           "8*3+7-7",        // 7 used twice
           "2*2*2*3",        // 2 used more often than given
           "8*3=24",         // not just an expression
           "8x3", "8×3", "abc", "", "   ", "8*", "*8", "(8*3", "8*3)", "()", "8 3", "-(2-8)*3-7+7", "+8*3",
           "8.0*3", "0x8*3", "8**3", "8//3"}) {
    EXPECT_EQ(task.verify(example, answer), 0.0) << answer;
  }
  EXPECT_EQ(task.verify(example, std::string("8*3\0", 4)), 0.0);
}

TEST(Countdown, VerifySurvivesHostileInput) {
  const CountdownTask task;
  EXPECT_EQ(task.verify(problem(24, {3, 3, 8}), "8/(3-3)"), 0.0);
  EXPECT_EQ(task.verify(problem(24, {3, 3, 8, 2}), "8*3+2/(3-3)"), 0.0);
  EXPECT_EQ(task.verify(problem(24, {3, 8}), "99999999999999999999999999*0+8*3"), 0.0);
  const int64_t huge = 999999999999999999;
  EXPECT_EQ(task.verify(problem(24, {huge, huge, huge, 8, 3}), "999999999999999999*999999999999999999*0+8*3"), 0.0);
  EXPECT_EQ(task.verify(problem(24, {huge, huge, 8, 3}), "8*3+999999999999999999-999999999999999999"), 1.0);
  EXPECT_EQ(task.verify(problem(24, {8, 3}), std::string(100000, '(') + "8*3" + std::string(100000, ')')), 0.0);
  EXPECT_EQ(task.verify(problem(24, {8, 3}), "(((8*3)))"), 1.0);

  // Random junk over the expression alphabet: never throws, always 0 or 1.
  Rng rng(13);
  const std::string alphabet = "0123456789+-*/() 3782";
  for (int i = 0; i < 20000; ++i) {
    std::string answer;
    for (int64_t length = rng.uniform_int(0, 16); length > 0; --length)
      answer += alphabet[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(alphabet.size()) - 1))];
    double reward = -1;
    ASSERT_NO_THROW(reward = task.verify(problem(24, {3, 7, 8, 2}), answer)) << answer;
    ASSERT_TRUE(reward == 0.0 || reward == 1.0) << answer;
  }
}

TEST(Countdown, VerifyNeedsTheMetaItWrote) {
  const CountdownTask task;
  Example example;
  EXPECT_THROW(task.verify(example, "8*3"), MuseError);
}

TEST(Countdown, SameSeedSameProblems) {
  const CountdownTask task;
  Rng first(77), second(77), other(78);
  int differences = 0;
  for (int i = 0; i < 200; ++i) {
    const Example a = task.generate(first, 4), b = task.generate(second, 4);
    ASSERT_EQ(segments_text(a.prompt), segments_text(b.prompt));
    ASSERT_EQ(a.reasoning, b.reasoning);
    ASSERT_EQ(a.answer, b.answer);
    differences += segments_text(a.prompt) != segments_text(task.generate(other, 4).prompt);
  }
  EXPECT_GT(differences, 190);
}

TEST(Countdown, DifficultyIsTheNumberCount) {
  const CountdownTask task;
  Rng rng(0);
  EXPECT_EQ(task.min_difficulty(), 3);
  EXPECT_EQ(task.max_difficulty(), 6);
  EXPECT_THROW(task.generate(rng, 2), MuseError);
  EXPECT_THROW(task.generate(rng, 7), MuseError);
}

}  // namespace
}  // namespace muse

namespace muse {
namespace {

TEST(Countdown, TrainingAndHeldOutWordingsAreApart) {
  const WordingPool& pool = countdown_wordings();
  EXPECT_NO_THROW(validate_wordings("countdown", pool));
  EXPECT_GE(pool.trained.size(), 8u);
  EXPECT_GE(pool.heldout.size(), 4u);
  // The words around the numbers: the template with its slots cut out must be in the surface's pool.
  auto skeleton = [](std::string text) {
    std::string out;
    bool in_numbers = false;
    for (char c : text) {
      const bool numeric = std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (numeric && !in_numbers) out += '#';
      if (!numeric) out += c;
      in_numbers = numeric;
    }
    return out;
  };
  auto skeletons_of = [&](const std::vector<std::string>& templates) {
    std::set<std::string> out;
    for (const auto& t : templates)
      for (const char* list : {"1 2 3", "1, 2, 3", "1, 2 and 3"})
        out.insert(skeleton(fill_wording(t, {{"target", "9"}, {"numbers", list}})));
    return out;
  };
  const auto trained = skeletons_of(pool.trained), heldout = skeletons_of(pool.heldout);
  const CountdownTask task;
  Rng rng(12);
  for (int i = 0; i < 500; ++i) {
    const std::string t = skeleton(undecorated(segments_text(task.generate(rng, 3, Surface::Trained).prompt)));
    ASSERT_EQ(trained.count(t), 1u) << t;
    ASSERT_EQ(heldout.count(t), 0u) << t;
    const std::string h = skeleton(undecorated(segments_text(task.generate(rng, 3, Surface::Heldout).prompt)));
    ASSERT_EQ(heldout.count(h), 1u) << h;
    ASSERT_EQ(trained.count(h), 0u) << h;
  }
}

}  // namespace
}  // namespace muse

#include "data/tasks/countdown.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "data/surface.h"
#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

constexpr int64_t kMinTarget = 10, kMaxTarget = 999;
constexpr int kMaxGenerateAttempts = 10000;
constexpr int kDeadEndAttempts = 8;  // tries to draw one dead end that never touches the target

// ---- Generation -------------------------------------------------------------------------------------------

int64_t random_number(Rng& rng) {
  static const int64_t kLarge[] = {50, 75, 100};
  if (rng.bernoulli(1.0 / 8)) return kLarge[rng.uniform_int(0, 2)];
  return rng.uniform_int(1, 25);
}

int precedence(char op) { return op == '+' || op == '-' ? 1 : 2; }
constexpr int kAtomPrecedence = 3;

// A value together with the expression that produced it, written with minimal parentheses.
struct Term {
  int64_t value;
  std::string expression;
  int precedence = kAtomPrecedence;  // of the expression's top-level operator
};

Term atom(int64_t value) { return {value, to_string(value)}; }

Term combine(const Term& left, char op, const Term& right, int64_t value) {
  const int p = precedence(op);
  // '-' and '/' do not associate, so an equal-precedence right side keeps its parentheses: a-(b+c).
  const bool wrap_left = left.precedence < p;
  const bool wrap_right = right.precedence < p || (right.precedence == p && (op == '-' || op == '/'));
  std::string expression = wrap_left ? "(" + left.expression + ")" : left.expression;
  expression += op;
  expression += wrap_right ? "(" + right.expression + ")" : right.expression;
  return {value, std::move(expression), p};
}

// Merges two random terms of the pool with a random operator that keeps the result a positive integer and is
// not a no-op (no *1 or /1). Returns the step as "a op b=c" and the result value.
std::pair<std::string, int64_t> random_step(Rng& rng, std::vector<Term>& pool) {
  const int64_t count = static_cast<int64_t>(pool.size());
  size_t i = static_cast<size_t>(rng.uniform_int(0, count - 1));
  size_t j = static_cast<size_t>(rng.uniform_int(0, count - 2));
  if (j >= i) ++j;
  if (pool[i].value < pool[j].value) std::swap(i, j);  // larger operand first
  const int64_t a = pool[i].value, b = pool[j].value;

  std::vector<char> ops = {'+'};
  if (a > b) ops.push_back('-');
  if (b > 1) ops.push_back('*');
  if (b > 1 && a % b == 0) ops.push_back('/');
  const char op = ops[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(ops.size()) - 1))];
  const int64_t value = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : a / b;

  Term merged = combine(pool[i], op, pool[j], value);
  pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(std::max(i, j)));
  pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(std::min(i, j)));
  pool.push_back(std::move(merged));
  return {to_string(a) + op + to_string(b) + "=" + to_string(value), value};
}

struct Attempt {
  std::string line;              // "a op b=c a op b=c" (without the closing " ok"/" no")
  std::vector<int64_t> results;  // every step's result, in order
  Term final_term{0, ""};
};

Attempt random_attempt(Rng& rng, std::vector<Term> pool, int steps) {
  Attempt attempt;
  for (int s = 0; s < steps; ++s) {
    auto [step, value] = random_step(rng, pool);
    attempt.line += (s ? " " : "") + step;
    attempt.results.push_back(value);
  }
  attempt.final_term = pool.back();
  return attempt;
}

std::vector<Term> atoms(const std::vector<int64_t>& numbers) {
  std::vector<Term> terms;
  for (int64_t n : numbers) terms.push_back(atom(n));
  return terms;
}

bool contains(const std::vector<int64_t>& values, int64_t value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Whether `chain` begins with all the steps of `prefix` ("a+b=c d*e=f" starts with "a+b=c", not "a+b=c1").
bool starts_with_steps(const std::string& chain, const std::string& prefix) {
  return chain.compare(0, prefix.size(), prefix) == 0 && (chain.size() == prefix.size() || chain[prefix.size()] == ' ');
}

// ---- Verification -----------------------------------------------------------------------------------------

// Exact value with a positive denominator, reduced. Every operation reports overflow instead of wrapping.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
};

std::optional<Rational> reduced(int64_t num, int64_t den) {
  if (den == 0 || num == INT64_MIN || den == INT64_MIN) return std::nullopt;
  if (den < 0) num = -num, den = -den;
  const int64_t divisor = std::gcd(num, den);
  return Rational{num / divisor, den / divisor};
}

std::optional<Rational> apply(char op, Rational x, Rational y) {
  int64_t num, den, cross;
  switch (op) {
    case '+':
    case '-':
      if (__builtin_mul_overflow(x.num, y.den, &num) || __builtin_mul_overflow(y.num, x.den, &cross) ||
          __builtin_mul_overflow(x.den, y.den, &den))
        return std::nullopt;
      if (op == '+' ? __builtin_add_overflow(num, cross, &num) : __builtin_sub_overflow(num, cross, &num))
        return std::nullopt;
      return reduced(num, den);
    case '*':
      if (__builtin_mul_overflow(x.num, y.num, &num) || __builtin_mul_overflow(x.den, y.den, &den))
        return std::nullopt;
      return reduced(num, den);
    case '/':
      if (__builtin_mul_overflow(x.num, y.den, &num) || __builtin_mul_overflow(x.den, y.num, &den))
        return std::nullopt;
      return reduced(num, den);  // y == 0 gives den == 0, which reduced() rejects
  }
  return std::nullopt;
}

// Recursive descent over: expression := term (('+'|'-') term)*, term := factor (('*'|'/') factor)*,
// factor := digits | '(' expression ')'. No unary minus, no decimals: anything else fails the parse.
class ExpressionParser {
 public:
  explicit ExpressionParser(const std::string& text) : text_(text) {}

  // The exact value of the whole text, or nullopt if it is malformed, overflows or divides by zero.
  std::optional<Rational> parse() {
    std::optional<Rational> value = expression(0);
    skip_spaces();
    if (pos_ != text_.size()) return std::nullopt;
    return value;
  }
  const std::vector<int64_t>& numbers() const { return numbers_; }

 private:
  static constexpr int kMaxDepth = 64;       // bounds recursion on "(((((..."
  static constexpr size_t kMaxDigits = 18;  // any int64 with up to 18 digits fits

  std::optional<Rational> expression(int depth) {
    std::optional<Rational> value = term(depth);
    while (value && accept("+-")) {
      const char op = text_[pos_ - 1];
      std::optional<Rational> right = term(depth);
      value = right ? apply(op, *value, *right) : std::nullopt;
    }
    return value;
  }

  std::optional<Rational> term(int depth) {
    std::optional<Rational> value = factor(depth);
    while (value && accept("*/")) {
      const char op = text_[pos_ - 1];
      std::optional<Rational> right = factor(depth);
      value = right ? apply(op, *value, *right) : std::nullopt;
    }
    return value;
  }

  std::optional<Rational> factor(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    if (accept("(")) {
      std::optional<Rational> value = expression(depth + 1);
      return value && accept(")") ? value : std::nullopt;
    }
    skip_spaces();
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ == start || pos_ - start > kMaxDigits) return std::nullopt;
    const int64_t number = std::stoll(text_.substr(start, pos_ - start));
    numbers_.push_back(number);
    return Rational{number, 1};
  }

  // Skips spaces, then consumes the next character if it is one of `chars`.
  bool accept(const char* chars) {
    skip_spaces();
    if (!next_is_one_of(chars)) return false;
    ++pos_;
    return true;
  }

  void skip_spaces() {
    while (next_is_one_of(" \t\r\n")) ++pos_;
  }

  bool next_is_one_of(const char* chars) const {
    // strchr also matches the terminator, so a NUL byte in the answer must be excluded explicitly.
    return pos_ < text_.size() && text_[pos_] != '\0' && std::strchr(chars, text_[pos_]);
  }

  const std::string& text_;
  size_t pos_ = 0;
  std::vector<int64_t> numbers_;
};

constexpr size_t kMaxAnswerChars = 1000;  // a real answer is tens of characters; longer is not worth parsing

// The given numbers as people list them: "3 7 8 2", "3, 7, 8, 2" or "3, 7, 8 and 2".
std::string number_list(Rng& rng, const std::vector<int64_t>& numbers) {
  const int64_t form = rng.uniform_int(0, 2);
  std::string out;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (i > 0) out += form == 0 ? " " : form == 2 && i + 1 == numbers.size() ? " and " : ", ";
    out += to_string(numbers[i]);
  }
  return out;
}

}  // namespace

const WordingPool& countdown_wordings() {
  static const WordingPool pool = [] {
    WordingPool p{{"target {target} from {numbers}", "Target {target} from {numbers}.",
                   "target {target} using {numbers}", "Reach {target} using {numbers}.",
                   "Make {target} from {numbers}", "Use {numbers} to make {target}.",
                   "Using {numbers}, reach {target}.", "Get {target} with the numbers {numbers}",
                   "countdown: {numbers} -> {target}", "Numbers {numbers}. Target {target}."},
                  {"Combine {numbers} to get {target}.", "How can you make {target} from {numbers}?",
                   "With {numbers}, make {target}", "Form {target} out of {numbers}."}};
    validate_wordings("countdown", p);
    return p;
  }();
  return pool;
}

size_t countdown_trace_budget(int difficulty) { return 120 + 60 * static_cast<size_t>(std::max(difficulty - 3, 0)); }

std::string CountdownTask::description() const {
  return "reach the target from the given numbers with + - * /; difficulty = how many numbers";
}

Example CountdownTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  const size_t budget = countdown_trace_budget(difficulty);
  for (int attempt = 0; attempt < kMaxGenerateAttempts; ++attempt) {
    std::vector<int64_t> numbers;
    for (int i = 0; i < difficulty; ++i) numbers.push_back(random_number(rng));

    // The solution: a random chain over a random subset, all of it reaching the target only at the end.
    std::vector<int64_t> subset = numbers;
    rng.shuffle(subset);
    subset.resize(static_cast<size_t>(rng.uniform_int(std::max(2, difficulty - 2), difficulty)));
    const Attempt solution = random_attempt(rng, atoms(subset), static_cast<int>(subset.size()) - 1);
    const int64_t target = solution.final_term.value;
    const std::vector<int64_t> earlier(solution.results.begin(), solution.results.end() - 1);
    const std::string solution_line = solution.line + " ok";
    if (target < kMinTarget || target > kMaxTarget || contains(numbers, target) || contains(earlier, target) ||
        solution_line.size() > budget)
      continue;

    // Dead ends first. Each must never hit the target, must keep the trace within budget, and must not
    // retrace another attempt (an abandoned chain that is later extended or finished would contradict itself).
    std::string reasoning;
    std::vector<std::string> chains = {solution.line};
    const int64_t dead_ends = rng.uniform_int(0, difficulty - 1);
    for (int64_t d = 0; d < dead_ends; ++d) {
      for (int t = 0; t < kDeadEndAttempts; ++t) {
        const int steps = static_cast<int>(rng.uniform_int(1, difficulty - 1));
        const Attempt dead_end = random_attempt(rng, atoms(numbers), steps);
        const bool retraces = std::any_of(chains.begin(), chains.end(), [&](const std::string& chain) {
          return starts_with_steps(chain, dead_end.line) || starts_with_steps(dead_end.line, chain);
        });
        if (contains(dead_end.results, target) || retraces) continue;
        const std::string line = dead_end.line + " no|";
        if (reasoning.size() + line.size() + solution_line.size() <= budget) {
          reasoning += line;
          chains.push_back(dead_end.line);
        }
        break;
      }
    }
    reasoning += solution_line;

    // The canonical form opens the trace whatever the wording, so the search always reads its numbers from
    // the same place.
    std::string canonical = "target " + to_string(target) + " from";
    for (int64_t n : numbers) canonical += " " + to_string(n);

    Example example;
    example.task = name();
    example.difficulty = difficulty;
    example.prompt = {text_segment(word(countdown_wordings(), surface, rng,
                                        {{"target", to_string(target)}, {"numbers", number_list(rng, numbers)}}))};
    example.reasoning = canonical + "|" + reasoning;
    example.problem_key = canonical;
    example.answer = solution.final_term.expression;
    example.meta = {{"target", target}, {"numbers", numbers}};
    return example;
  }
  throw MuseError("countdown: no problem found at difficulty " + to_string(difficulty));
}

double CountdownTask::verify(const Example& example, const std::string& answer) const {
  int64_t target;
  std::map<int64_t, int> available;
  try {
    target = example.meta.at("target").get<int64_t>();
    for (const auto& n : example.meta.at("numbers")) ++available[n.get<int64_t>()];
  } catch (const nlohmann::json::exception&) {
    throw MuseError("countdown: example meta needs \"target\" and \"numbers\"");
  }
  if (answer.size() > kMaxAnswerChars) return 0.0;
  ExpressionParser parser(answer);
  const std::optional<Rational> value = parser.parse();
  if (!value || value->den != 1 || value->num != target) return 0.0;
  for (int64_t n : parser.numbers())
    if (--available[n] < 0) return 0.0;
  return 1.0;
}

}  // namespace muse

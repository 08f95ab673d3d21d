#include "data/tasks/table_task.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include "data/table.h"
#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

constexpr int kMaxGenerateAttempts = 1000;  // a few rejections (ties, no passing row, long trace) are normal

struct Theme {
  const char* key;                   // the first column's name
  std::vector<const char*> names;    // row names: 3..5 lowercase ASCII letters
  std::vector<const char*> columns;  // value columns
};

const std::vector<Theme>& themes() {
  static const std::vector<Theme> kThemes = {
      {"fruit",
       {"apple", "pear", "fig", "kiwi", "plum", "lime", "mango", "peach", "grape", "lemon", "melon", "date",
        "guava", "olive", "berry", "yuzu"},
       {"price", "stock", "sold", "weight"}},
      {"city",
       {"rome", "oslo", "lima", "kyiv", "doha", "bern", "riga", "baku", "cairo", "paris", "delhi", "tokyo",
        "dakar", "quito", "sofia", "perth", "milan", "seoul", "lyon", "nice"},
       {"temp", "rain", "wind", "sun"}},
      {"person",
       {"ann", "bob", "cal", "dan", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lea", "mia", "ned", "oli",
        "pam", "ray", "sam", "tom", "zoe"},
       {"age", "score", "goals", "wins"}},
      {"animal",
       {"cat", "dog", "cow", "pig", "hen", "fox", "owl", "bee", "ant", "elk", "yak", "emu", "bat", "rat", "seal",
        "wolf", "bear", "deer", "duck", "frog"},
       {"size", "speed", "age", "food"}},
  };
  return kThemes;
}

// Per difficulty: rows, value columns, value range and the question kinds it asks.
enum class Kind { Lookup, Which, Count, Extreme, Sum, FilterSum, ExtremeLookup };

struct Level {
  int min_rows, max_rows;
  int min_columns, max_columns;  // value columns, the name column excluded
  int max_value;                 // values are 1..max_value
  std::vector<Kind> kinds;
};

const Level& level(int difficulty) {
  static const Level kLevels[] = {
      {3, 4, 1, 2, 20, {Kind::Lookup, Kind::Which}},
      {4, 6, 2, 3, 20, {Kind::Count, Kind::Extreme}},
      {6, 8, 2, 3, 9, {Kind::Sum, Kind::FilterSum, Kind::ExtremeLookup}},
  };
  return kLevels[difficulty - 1];
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Lookup: return "lookup";
    case Kind::Which: return "which";
    case Kind::Count: return "count";
    case Kind::Extreme: return "extreme";
    case Kind::Sum: return "sum";
    case Kind::FilterSum: return "filter_sum";
    case Kind::ExtremeLookup: return "extreme_lookup";
  }
  return "";
}

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(items.size()) - 1))];
}

// The table being asked about: names[r] heads row r, values[r][c] is value column c (table column c + 1).
struct Grid {
  const Theme* theme;
  std::vector<std::string> names;
  std::vector<std::string> columns;
  std::vector<std::vector<int>> values;

  size_t rows() const { return names.size(); }
  int value(size_t row, size_t column) const { return values[row][column]; }
};

struct Problem {
  std::string question, reasoning, answer;
};

std::string join(const std::vector<std::string>& steps) {
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) out += (i ? "|" : "") + steps[i];
  return out;
}

bool passes(int value, char op, int threshold) { return op == '>' ? value > threshold : value < threshold; }

// A threshold strictly inside the column's range when it has one, so the comparison sorts rows both ways.
int random_threshold(Rng& rng, const Grid& grid, size_t column) {
  int lo = grid.value(0, column), hi = lo;
  for (size_t r = 0; r < grid.rows(); ++r) lo = std::min(lo, grid.value(r, column)), hi = std::max(hi, grid.value(r, column));
  return static_cast<int>(rng.uniform_int(lo, hi));
}

// "apple 4|pear 7>4|fig 2<7|max pear 7": the running comparison with the best so far. Returns the best row,
// or nothing when the extreme value is shared by several rows (the question would have no single answer).
std::optional<size_t> extreme_steps(const Grid& grid, size_t column, bool highest, std::vector<std::string>& steps) {
  size_t best = 0;
  steps.push_back(grid.names[0] + " " + to_string(grid.value(0, column)));
  for (size_t r = 1; r < grid.rows(); ++r) {
    const int v = grid.value(r, column), b = grid.value(best, column);
    steps.push_back(grid.names[r] + " " + to_string(v) + (v > b ? ">" : v < b ? "<" : "=") + to_string(b));
    if (highest ? v > b : v < b) best = r;
  }
  for (size_t r = 0; r < grid.rows(); ++r)
    if (r != best && grid.value(r, column) == grid.value(best, column)) return std::nullopt;
  steps.push_back(std::string(highest ? "max " : "min ") + grid.names[best] + " " + to_string(grid.value(best, column)));
  return best;
}

std::optional<Problem> make_problem(Rng& rng, const Grid& grid, Kind kind) {
  const size_t n_columns = grid.columns.size();
  const size_t column = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(n_columns) - 1));
  const std::string& key = grid.theme->key;
  const std::string& col = grid.columns[column];
  // A second, different value column for the two-column questions.
  size_t other = column;
  if (n_columns > 1) {
    other = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(n_columns) - 2));
    if (other >= column) ++other;
  }
  std::vector<std::string> steps;
  Problem problem;

  switch (kind) {
    case Kind::Lookup: {
      const size_t row = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(grid.rows()) - 1));
      const std::string value = to_string(grid.value(row, column));
      problem.question = "what is the " + col + " of " + grid.names[row] + "?";
      steps.push_back(grid.names[row] + " " + col + "=" + value);
      problem.answer = value;
      break;
    }
    case Kind::Which: {
      const size_t row = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(grid.rows()) - 1));
      const int target = grid.value(row, column);
      for (size_t r = 0; r < grid.rows(); ++r) {
        if (r != row && grid.value(r, column) == target) return std::nullopt;
        steps.push_back(grid.names[r] + " " + to_string(grid.value(r, column)) + "=" + to_string(target) +
                        (r == row ? " y" : " n"));
      }
      problem.question = "which " + key + " has " + col + " " + to_string(target) + "?";
      problem.answer = grid.names[row];
      break;
    }
    case Kind::Count: {
      const char op = rng.bernoulli(0.5) ? '>' : '<';
      const int threshold = random_threshold(rng, grid, column);
      int count = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        const int v = grid.value(r, column);
        const bool pass = passes(v, op, threshold);
        count += pass;
        steps.push_back(grid.names[r] + " " + to_string(v) + op + to_string(threshold) +
                        (pass ? " y" + to_string(count) : std::string(" n")));
      }
      steps.push_back("count " + to_string(count));
      problem.question = "how many rows have " + col + " " + op + " " + to_string(threshold) + "?";
      problem.answer = to_string(count);
      break;
    }
    case Kind::Extreme: {
      const bool highest = rng.bernoulli(0.5);
      const std::optional<size_t> best = extreme_steps(grid, column, highest, steps);
      if (!best) return std::nullopt;
      problem.question = "which " + key + " has the " + (highest ? "highest " : "lowest ") + col + "?";
      problem.answer = grid.names[*best];
      break;
    }
    case Kind::Sum: {
      int total = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        total += grid.value(r, column);
        steps.push_back(grid.names[r] + " +" + to_string(grid.value(r, column)) + "=" + to_string(total));
      }
      problem.question = "what is the total " + col + "?";
      problem.answer = to_string(total);
      break;
    }
    case Kind::FilterSum: {  // sums `column` over the rows where `other` passes
      const char op = rng.bernoulli(0.5) ? '>' : '<';
      const int threshold = random_threshold(rng, grid, other);
      int total = 0, passing = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        const int v = grid.value(r, other);
        std::string step = grid.names[r] + " " + to_string(v) + op + to_string(threshold);
        if (passes(v, op, threshold)) {
          total += grid.value(r, column);
          ++passing;
          step += " y +" + to_string(grid.value(r, column)) + "=" + to_string(total);
        } else {
          step += " n";
        }
        steps.push_back(step);
      }
      if (passing == 0) return std::nullopt;
      problem.question = "what is the total " + col + " where " + grid.columns[other] + " " + op + " " +
                         to_string(threshold) + "?";
      problem.answer = to_string(total);
      break;
    }
    case Kind::ExtremeLookup: {  // the row with the extreme `other`, then its `column`
      const bool highest = rng.bernoulli(0.5);
      const std::optional<size_t> best = extreme_steps(grid, other, highest, steps);
      if (!best) return std::nullopt;
      const std::string value = to_string(grid.value(*best, column));
      steps.push_back(grid.names[*best] + " " + col + "=" + value);
      problem.question = "what is the " + col + " of the " + key + " with the " + (highest ? "highest " : "lowest ") +
                         grid.columns[other] + "?";
      problem.answer = value;
      break;
    }
  }
  problem.reasoning = join(steps);
  return problem;
}

Grid random_grid(Rng& rng, const Level& lv) {
  Grid grid;
  grid.theme = &pick(rng, themes());
  std::vector<const char*> names = grid.theme->names, columns = grid.theme->columns;
  rng.shuffle(names);
  rng.shuffle(columns);
  const auto n_rows = static_cast<size_t>(rng.uniform_int(lv.min_rows, lv.max_rows));
  const auto n_columns = static_cast<size_t>(rng.uniform_int(lv.min_columns, lv.max_columns));
  grid.names.assign(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(n_rows));
  grid.columns.assign(columns.begin(), columns.begin() + static_cast<std::ptrdiff_t>(n_columns));
  grid.values.assign(n_rows, std::vector<int>(n_columns));
  for (auto& row : grid.values)
    for (int& v : row) v = static_cast<int>(rng.uniform_int(1, lv.max_value));
  return grid;
}

Table to_table(const Grid& grid) {
  Table table;
  table.header.push_back(grid.theme->key);
  table.header.insert(table.header.end(), grid.columns.begin(), grid.columns.end());
  for (size_t r = 0; r < grid.rows(); ++r) {
    std::vector<std::string> row = {grid.names[r]};
    for (int v : grid.values[r]) row.push_back(to_string(v));
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string normalized(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n\f\v");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n\f\v");
  std::string out = text.substr(begin, end - begin + 1);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string TableTask::description() const {
  return "answer a question about a table: lookup, count-where, highest/lowest, sum, filter-then-sum; "
         "difficulty 1..3 = more rows, columns and steps";
}

Example TableTask::generate(Rng& rng, int difficulty) const {
  check_difficulty(*this, difficulty);
  const Level& lv = level(difficulty);
  for (int attempt = 0; attempt < kMaxGenerateAttempts; ++attempt) {
    const Grid grid = random_grid(rng, lv);
    const Kind kind = pick(rng, lv.kinds);
    std::optional<Problem> problem = make_problem(rng, grid, kind);
    if (!problem || problem->reasoning.size() > kTableTraceMaxChars) continue;
    Table table = to_table(grid);
    check_table(table, "table task");
    Example example;
    example.task = name();
    example.difficulty = difficulty;
    example.prompt = {table_segment(std::move(table)), text_segment(problem->question)};
    example.reasoning = std::move(problem->reasoning);
    example.answer = std::move(problem->answer);
    example.meta = {{"kind", kind_name(kind)}};
    return example;
  }
  throw MuseError("table: no problem found at difficulty " + to_string(difficulty));
}

double TableTask::verify(const Example& example, const std::string& answer) const {
  return !example.answer.empty() && normalized(answer) == normalized(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

#include "data/tasks/table_task.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <numeric>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "data/table.h"
#include "util/error.h"

namespace muse {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

const Table& table_of(const Example& example) { return *example.prompt.at(0).table; }
const std::string& question_of(const Example& example) { return example.prompt.at(1).text; }

// The table as the test reads it: row names and integer values by column name.
struct View {
  std::vector<std::string> names;
  std::map<std::string, std::vector<int>> columns;
  std::string key;

  explicit View(const Table& table) : key(table.header.at(0)) {
    for (const auto& row : table.rows) {
      names.push_back(row.at(0));
      for (size_t c = 1; c < table.columns(); ++c) columns[table.header[c]].push_back(std::stoi(row.at(c)));
    }
  }
  const std::vector<int>& column(const std::string& name) const { return columns.at(name); }
  size_t rows() const { return names.size(); }
};

bool passes(int value, const std::string& op, int threshold) { return op == ">" ? value > threshold : value < threshold; }

// Replays "apple 4|pear 7>4|fig 2<7|max pear 7" over `values` and returns the index of the unique extreme row.
// `steps` are the trace's steps; the extreme part is the first rows() + 1 of them.
size_t check_extreme(const View& view, const std::vector<int>& values, bool highest, const std::vector<std::string>& steps) {
  EXPECT_GE(steps.size(), view.rows() + 1);
  EXPECT_EQ(steps.at(0), view.names[0] + " " + std::to_string(values[0]));
  int best = values[0];
  for (size_t r = 1; r < view.rows(); ++r) {
    const int v = values[r];
    const char op = v > best ? '>' : v < best ? '<' : '=';
    EXPECT_EQ(steps.at(r), view.names[r] + " " + std::to_string(v) + op + std::to_string(best));
    best = highest ? std::max(best, v) : std::min(best, v);
  }
  const auto it = highest ? std::max_element(values.begin(), values.end()) : std::min_element(values.begin(), values.end());
  EXPECT_EQ(std::count(values.begin(), values.end(), *it), 1) << "the extreme must be unique";
  const size_t row = static_cast<size_t>(it - values.begin());
  EXPECT_EQ(best, *it);
  EXPECT_EQ(steps.at(view.rows()), std::string(highest ? "max " : "min ") + view.names[row] + " " + std::to_string(best));
  return row;
}

// Recomputes the answer from the table and the question alone, and checks every step of the trace against the
// table. Returns the question's kind.
std::string check_problem(const Example& example) {
  const View view(table_of(example));
  const std::string& q = question_of(example);
  const std::vector<std::string> steps = split(example.reasoning, '|');
  std::smatch m;
  static const std::regex lookup(R"(what is the (\w+) of (\w+)\?)");
  static const std::regex which(R"(which (\w+) has (\w+) (\d+)\?)");
  static const std::regex count(R"(how many rows have (\w+) ([<>]) (\d+)\?)");
  static const std::regex extreme(R"(which (\w+) has the (highest|lowest) (\w+)\?)");
  static const std::regex sum(R"(what is the total (\w+)\?)");
  static const std::regex filter_sum(R"(what is the total (\w+) where (\w+) ([<>]) (\d+)\?)");
  static const std::regex extreme_lookup(R"(what is the (\w+) of the (\w+) with the (highest|lowest) (\w+)\?)");

  if (std::regex_match(q, m, lookup)) {
    const auto& values = view.column(m[1]);
    const size_t row = static_cast<size_t>(std::find(view.names.begin(), view.names.end(), m[2].str()) - view.names.begin());
    EXPECT_LT(row, view.rows());
    const std::string value = std::to_string(values.at(row));
    EXPECT_EQ(example.reasoning, m[2].str() + " " + m[1].str() + "=" + value);
    EXPECT_EQ(example.answer, value);
    return "lookup";
  }
  if (std::regex_match(q, m, which)) {
    EXPECT_EQ(m[1].str(), view.key);
    const auto& values = view.column(m[2]);
    const int target = std::stoi(m[3]);
    EXPECT_EQ(std::count(values.begin(), values.end(), target), 1);
    EXPECT_EQ(steps.size(), view.rows());
    for (size_t r = 0; r < view.rows(); ++r)
      EXPECT_EQ(steps.at(r), view.names[r] + " " + std::to_string(values[r]) + "=" + m[3].str() +
                                 (values[r] == target ? " y" : " n"));
    const size_t row = static_cast<size_t>(std::find(values.begin(), values.end(), target) - values.begin());
    EXPECT_EQ(example.answer, view.names.at(row));
    return "which";
  }
  if (std::regex_match(q, m, count)) {
    const auto& values = view.column(m[1]);
    const int threshold = std::stoi(m[3]);
    EXPECT_EQ(steps.size(), view.rows() + 1);
    int n = 0;
    for (size_t r = 0; r < view.rows(); ++r) {
      const bool pass = passes(values[r], m[2], threshold);
      n += pass;
      EXPECT_EQ(steps.at(r), view.names[r] + " " + std::to_string(values[r]) + m[2].str() + m[3].str() +
                                 (pass ? " y" + std::to_string(n) : " n"));
    }
    EXPECT_EQ(steps.back(), "count " + std::to_string(n));
    EXPECT_EQ(example.answer, std::to_string(n));
    return "count";
  }
  if (std::regex_match(q, m, extreme)) {
    EXPECT_EQ(m[1].str(), view.key);
    EXPECT_EQ(steps.size(), view.rows() + 1);
    const size_t row = check_extreme(view, view.column(m[3]), m[2] == "highest", steps);
    EXPECT_EQ(example.answer, view.names.at(row));
    return "extreme";
  }
  if (std::regex_match(q, m, sum)) {
    const auto& values = view.column(m[1]);
    EXPECT_EQ(steps.size(), view.rows());
    int total = 0;
    for (size_t r = 0; r < view.rows(); ++r) {
      total += values[r];
      EXPECT_EQ(steps.at(r), view.names[r] + " +" + std::to_string(values[r]) + "=" + std::to_string(total));
    }
    EXPECT_EQ(total, std::accumulate(values.begin(), values.end(), 0));
    EXPECT_EQ(example.answer, std::to_string(total));
    return "sum";
  }
  if (std::regex_match(q, m, filter_sum)) {
    EXPECT_NE(m[1].str(), m[2].str());
    const auto& summed = view.column(m[1]);
    const auto& filtered = view.column(m[2]);
    const int threshold = std::stoi(m[4]);
    EXPECT_EQ(steps.size(), view.rows());
    int total = 0, passing = 0;
    for (size_t r = 0; r < view.rows(); ++r) {
      std::string expected = view.names[r] + " " + std::to_string(filtered[r]) + m[3].str() + m[4].str();
      if (passes(filtered[r], m[3], threshold)) {
        total += summed[r];
        ++passing;
        expected += " y +" + std::to_string(summed[r]) + "=" + std::to_string(total);
      } else {
        expected += " n";
      }
      EXPECT_EQ(steps.at(r), expected);
    }
    EXPECT_GT(passing, 0);
    EXPECT_EQ(example.answer, std::to_string(total));
    return "filter_sum";
  }
  if (std::regex_match(q, m, extreme_lookup)) {
    EXPECT_EQ(m[2].str(), view.key);
    EXPECT_NE(m[1].str(), m[4].str());
    EXPECT_EQ(steps.size(), view.rows() + 2);
    const size_t row = check_extreme(view, view.column(m[4]), m[3] == "highest", steps);
    const std::string value = std::to_string(view.column(m[1]).at(row));
    EXPECT_EQ(steps.back(), view.names[row] + " " + m[1].str() + "=" + value);
    EXPECT_EQ(example.answer, value);
    return "extreme_lookup";
  }
  ADD_FAILURE() << "unrecognised question: " << q;
  return "";
}

TEST(TableTask, ReferenceTracesReplayAgainstTheTableAtEveryDifficulty) {
  const TableTask task;
  const std::map<int, std::set<std::string>> expected_kinds = {
      {1, {"lookup", "which"}}, {2, {"count", "extreme"}}, {3, {"sum", "filter_sum", "extreme_lookup"}}};
  const std::map<int, std::pair<size_t, size_t>> row_range = {{1, {3, 4}}, {2, {4, 6}}, {3, {6, 8}}};
  const std::map<int, std::pair<size_t, size_t>> column_range = {{1, {2, 3}}, {2, {3, 4}}, {3, {3, 4}}};
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng rng(seed_mix(5, static_cast<uint64_t>(difficulty)));
    std::set<std::string> kinds;
    size_t longest = 0, total_chars = 0;
    const int n = 3000;
    for (int i = 0; i < n; ++i) {
      const Example example = task.generate(rng, difficulty);
      ASSERT_EQ(example.task, "table");
      ASSERT_EQ(example.difficulty, difficulty);
      ASSERT_EQ(example.prompt.size(), 2u);
      ASSERT_EQ(example.prompt[0].kind, SegmentKind::Table);
      ASSERT_EQ(example.prompt[1].kind, SegmentKind::Text);
      const Table& table = table_of(example);
      ASSERT_NO_THROW(check_table(table, "generated"));
      EXPECT_GE(table.rows.size(), row_range.at(difficulty).first);
      EXPECT_LE(table.rows.size(), row_range.at(difficulty).second);
      EXPECT_GE(table.columns(), column_range.at(difficulty).first);
      EXPECT_LE(table.columns(), column_range.at(difficulty).second);
      std::set<std::string> names;
      for (const auto& row : table.rows) {
        const std::string& name = row.at(0);
        EXPECT_TRUE(!name.empty() && name.size() <= 8 &&
                    std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::islower(c); }))
            << name;
        names.insert(name);
        for (size_t c = 1; c < row.size(); ++c) {
          const int v = std::stoi(row[c]);
          EXPECT_EQ(row[c], std::to_string(v));
          EXPECT_GE(v, 1);
          EXPECT_LE(v, difficulty == 3 ? 9 : 20);
        }
      }
      EXPECT_EQ(names.size(), table.rows.size()) << "row names must be distinct";

      const std::string kind = check_problem(example);
      EXPECT_EQ(example.meta.at("kind").get<std::string>(), kind);
      kinds.insert(kind);
      EXPECT_LE(example.reasoning.size(), kTableTraceMaxChars) << example.reasoning;
      longest = std::max(longest, example.reasoning.size());
      total_chars += example.reasoning.size();
      ASSERT_EQ(task.verify(example, example.answer), 1.0);
      if (::testing::Test::HasFailure()) {
        FAIL() << to_csv(table) << question_of(example) << "\n" << example.reasoning << " -> " << example.answer;
      }
    }
    EXPECT_EQ(kinds, expected_kinds.at(difficulty));
    const double mean = static_cast<double>(total_chars) / n;
    std::printf("difficulty %d: trace mean %.1f chars, longest %zu\n", difficulty, mean, longest);
    EXPECT_LE(mean, difficulty == 3 ? 90.0 : 80.0);
  }
}

TEST(TableTask, VerifyAcceptsOnlyTheExactAnswer) {
  const TableTask task;
  Rng rng(21);
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    for (int i = 0; i < 300; ++i) {
      const Example example = task.generate(rng, difficulty);
      std::string upper = example.answer;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(task.verify(example, "  " + upper + "\n"), 1.0);
      EXPECT_EQ(task.verify(example, "\t" + example.answer + " "), 1.0);
      EXPECT_EQ(task.verify(example, ""), 0.0);
      EXPECT_EQ(task.verify(example, example.answer + "1"), 0.0);
      EXPECT_EQ(task.verify(example, example.answer + "."), 0.0);
      EXPECT_EQ(task.verify(example, "the answer is " + example.answer), 0.0);
      if (std::isdigit(static_cast<unsigned char>(example.answer[0]))) {
        const int value = std::stoi(example.answer);
        EXPECT_EQ(task.verify(example, std::to_string(value + 1)), 0.0);
        EXPECT_EQ(task.verify(example, std::to_string(value - 1)), 0.0);
      } else {
        for (const auto& row : table_of(example).rows)
          if (row[0] != example.answer) EXPECT_EQ(task.verify(example, row[0]), 0.0);
      }
    }
  }
}

TEST(TableTask, VerifyNeverThrows) {
  const TableTask task;
  Rng rng(3);
  const Example example = task.generate(rng, 2);
  for (const std::string& answer : {std::string(), std::string(1, '\0'), std::string("\xff\xfe"),
                                    std::string(100000, '9'), std::string(" \n\t "), std::string("-0")}) {
    EXPECT_NO_THROW(EXPECT_EQ(task.verify(example, answer), 0.0));
  }
  Example empty;  // a hand-made example without a reference answer accepts nothing
  EXPECT_EQ(task.verify(empty, ""), 0.0);
}

TEST(TableTask, GenerationIsAPureFunctionOfTheRng) {
  const TableTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng first(42), second(42);
    for (int i = 0; i < 100; ++i) {
      const Example a = task.generate(first, difficulty);
      const Example b = task.generate(second, difficulty);
      ASSERT_EQ(table_of(a).header, table_of(b).header);
      ASSERT_EQ(table_of(a).rows, table_of(b).rows);
      ASSERT_EQ(question_of(a), question_of(b));
      ASSERT_EQ(a.reasoning, b.reasoning);
      ASSERT_EQ(a.answer, b.answer);
      ASSERT_EQ(a.meta, b.meta);
    }
  }
}

TEST(TableTask, DifficultyOutOfRangeThrows) {
  const TableTask task;
  Rng rng(0);
  EXPECT_EQ(task.min_difficulty(), 1);
  EXPECT_EQ(task.max_difficulty(), 3);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 4), MuseError);
  EXPECT_THROW(task.sample(rng, 4, Split::Train), MuseError);
  EXPECT_FALSE(task.description().empty());
  EXPECT_EQ(make_task("table")->name(), "table");
}

TEST(TableTask, ManyDistinctProblemsAndBothSplitsReachable) {
  const TableTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng rng(seed_mix(8, static_cast<uint64_t>(difficulty)));
    std::set<std::string> keys;
    int heldout = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const Example example = task.generate(rng, difficulty);
      const std::string key = segments_key(example.prompt);
      keys.insert(key);
      heldout += split_of(key) == Split::Heldout;
    }
    // Almost no repeats among 20,000 draws means the problem space is far larger than 10,000.
    EXPECT_GT(keys.size(), static_cast<size_t>(n * 0.98)) << "difficulty " << difficulty;
    EXPECT_NEAR(heldout / static_cast<double>(n), 0.1, 0.01) << "difficulty " << difficulty;

    std::set<std::string> train_keys;
    for (int i = 0; i < 200; ++i) {
      const Example example = task.sample(rng, difficulty, Split::Train);
      ASSERT_EQ(split_of(segments_key(example.prompt)), Split::Train);
      train_keys.insert(segments_key(example.prompt));
    }
    for (int i = 0; i < 100; ++i) {
      const Example example = task.sample(rng, difficulty, Split::Heldout);
      const std::string key = segments_key(example.prompt);
      ASSERT_EQ(split_of(key), Split::Heldout);
      EXPECT_EQ(train_keys.count(key), 0u);
      EXPECT_EQ(task.verify(example, example.answer), 1.0);
    }
  }
}

TEST(TableTask, TheSameQuestionOverDifferentTablesHasDifferentSplits) {
  // The split key includes the table's cells, not just the question text.
  const TableTask task;
  Rng rng(17);
  std::map<std::string, std::set<Split>> splits_by_question;
  for (int i = 0; i < 20000; ++i) {
    const Example example = task.generate(rng, 1);
    splits_by_question[question_of(example)].insert(split_of(segments_key(example.prompt)));
  }
  size_t both = 0;
  for (const auto& [question, splits] : splits_by_question) both += splits.size() == 2;
  EXPECT_GT(both, 10u);
}

}  // namespace
}  // namespace muse

#include "data/tasks/table_task.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "data/surface.h"
#include "data/table.h"
#include "tokenizer/tokenizer.h"
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

size_t column_index(const Table& table, const std::string& name) {
  const auto it = std::find(table.header.begin(), table.header.end(), name);
  EXPECT_NE(it, table.header.end()) << name;
  return static_cast<size_t>(it - table.header.begin());
}

// An integer column's values (every cell must be a canonical positive integer).
std::vector<int> int_column(const Table& table, size_t c) {
  std::vector<int> values;
  for (const auto& row : table.rows) {
    const int v = std::stoi(row.at(c));
    EXPECT_EQ(row.at(c), std::to_string(v));
    EXPECT_GE(v, 1);
    values.push_back(v);
  }
  return values;
}

std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> names;
  for (const auto& row : table.rows) names.push_back(row.at(0));
  return names;
}

bool passes(int value, const std::string& op, int threshold) { return op == ">" ? value > threshold : value < threshold; }

// Replays "apple 4|pear 7>4|fig 2<7|max pear 7" and returns the index of the unique extreme row.
size_t check_extreme(const std::vector<std::string>& names, const std::vector<int>& values, bool highest,
                     const std::vector<std::string>& steps) {
  EXPECT_GE(steps.size(), names.size() + 1);
  EXPECT_EQ(steps.at(0), names[0] + " " + std::to_string(values[0]));
  int best = values[0];
  for (size_t r = 1; r < names.size(); ++r) {
    const int v = values[r];
    const char op = v > best ? '>' : v < best ? '<' : '=';
    EXPECT_EQ(steps.at(r), names[r] + " " + std::to_string(v) + op + std::to_string(best));
    best = highest ? std::max(best, v) : std::min(best, v);
  }
  const auto it = highest ? std::max_element(values.begin(), values.end()) : std::min_element(values.begin(), values.end());
  EXPECT_EQ(std::count(values.begin(), values.end(), *it), 1) << "the extreme must be unique";
  const size_t row = static_cast<size_t>(it - values.begin());
  EXPECT_EQ(steps.at(names.size()), std::string(highest ? "max " : "min ") + names[row] + " " + std::to_string(best));
  return row;
}

// The slots the question was worded with, rebuilt from the table and the meta.
WordingSlots slots_of(const Example& example) {
  const Table& table = table_of(example);
  const auto& meta = example.meta;
  WordingSlots slots = {{"key", table.header.at(0)}, {"col", meta.at("column").get<std::string>()}};
  if (meta.contains("row")) slots.push_back({"row", table.rows.at(meta.at("row").get<size_t>()).at(0)});
  if (meta.contains("other")) slots.push_back({"other", meta.at("other").get<std::string>()});
  if (meta.contains("op")) slots.push_back({"op", meta.at("op").get<std::string>()});
  if (meta.contains("threshold")) slots.push_back({"threshold", std::to_string(meta.at("threshold").get<int>())});
  if (meta.contains("highest")) slots.push_back({"dir", meta.at("highest").get<bool>() ? "highest" : "lowest"});
  if (meta.at("kind") == "which") {
    const size_t c = column_index(table, meta.at("column").get<std::string>());
    slots.push_back({"value", table.rows.at(meta.at("row").get<size_t>()).at(c)});
  }
  return slots;
}

// Whether the question is one of the pool part's templates filled with the example's slots.
bool worded_from(const Example& example, const std::vector<std::string>& templates) {
  const WordingSlots slots = slots_of(example);
  for (const auto& t : templates)
    if (fill_wording(t, slots) == undecorated(question_of(example))) return true;
  return false;
}

const WordingPool& pool_of_kind(const std::string& kind) {
  static const std::vector<std::string> kinds = {"lookup", "which", "count", "extreme", "sum", "filter_sum", "extreme_lookup"};
  const size_t i = static_cast<size_t>(std::find(kinds.begin(), kinds.end(), kind) - kinds.begin());
  return *table_wording_pools().at(i);
}

// Recomputes the answer from the table and the meta, checks every step of the trace against the table and the
// question against the wording pool. Returns the kind.
std::string check_problem(const Example& example, Surface surface) {
  const Table& table = table_of(example);
  const std::vector<std::string> names = names_of(table);
  const std::vector<std::string> steps = split(example.reasoning, '|');
  const auto& meta = example.meta;
  const std::string kind = meta.at("kind");
  const std::string col = meta.at("column");
  const size_t c = column_index(table, col);
  EXPECT_GE(c, 1u);
  const WordingPool& pool = pool_of_kind(kind);
  EXPECT_TRUE(worded_from(example, surface == Surface::Trained ? pool.trained : pool.heldout)) << question_of(example);
  EXPECT_FALSE(worded_from(example, surface == Surface::Trained ? pool.heldout : pool.trained)) << question_of(example);

  if (kind == "lookup") {
    const size_t row = meta.at("row");
    const std::string& cell = table.rows.at(row).at(c);
    EXPECT_NE(cell, kMissingCell);
    EXPECT_EQ(example.reasoning, names[row] + " " + col + "=" + cell);
    EXPECT_EQ(example.answer, cell);  // verbatim: units, signs, case
  } else if (kind == "which") {
    const size_t row = meta.at("row");
    const std::string& target = table.rows.at(row).at(c);
    EXPECT_NE(target, kMissingCell);
    EXPECT_EQ(steps.size(), names.size());
    for (size_t r = 0; r < names.size(); ++r) {
      const std::string& cell = table.rows[r][c];
      if (r != row) EXPECT_NE(normalized_answer(cell), normalized_answer(target)) << "the value must be unique";
      EXPECT_EQ(steps.at(r), names[r] + " " + cell + "=" + target + (r == row ? " y" : " n"));
    }
    EXPECT_EQ(example.answer, names[row]);
  } else if (kind == "count") {
    const std::vector<int> values = int_column(table, c);
    const std::string op = meta.at("op");
    const int threshold = meta.at("threshold");
    EXPECT_EQ(steps.size(), names.size() + 1);
    int n = 0;
    for (size_t r = 0; r < names.size(); ++r) {
      const bool pass = passes(values[r], op, threshold);
      n += pass;
      EXPECT_EQ(steps.at(r), names[r] + " " + std::to_string(values[r]) + op + std::to_string(threshold) +
                                 (pass ? " y" + std::to_string(n) : " n"));
    }
    EXPECT_EQ(steps.back(), "count " + std::to_string(n));
    EXPECT_EQ(example.answer, std::to_string(n));
  } else if (kind == "extreme") {
    EXPECT_EQ(steps.size(), names.size() + 1);
    const size_t row = check_extreme(names, int_column(table, c), meta.at("highest"), steps);
    EXPECT_EQ(example.answer, names.at(row));
  } else if (kind == "sum") {
    const std::vector<int> values = int_column(table, c);
    EXPECT_EQ(steps.size(), names.size());
    int total = 0;
    for (size_t r = 0; r < names.size(); ++r) {
      total += values[r];
      EXPECT_EQ(steps.at(r), names[r] + " +" + std::to_string(values[r]) + "=" + std::to_string(total));
    }
    EXPECT_EQ(example.answer, std::to_string(total));
  } else if (kind == "filter_sum") {
    const size_t o = column_index(table, meta.at("other"));
    EXPECT_NE(o, c);
    const std::vector<int> summed = int_column(table, c), filtered = int_column(table, o);
    const std::string op = meta.at("op");
    const int threshold = meta.at("threshold");
    EXPECT_EQ(steps.size(), names.size());
    int total = 0, passing = 0;
    for (size_t r = 0; r < names.size(); ++r) {
      std::string expected = names[r] + " " + std::to_string(filtered[r]) + op + std::to_string(threshold);
      if (passes(filtered[r], op, threshold)) {
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
  } else if (kind == "extreme_lookup") {
    const size_t o = column_index(table, meta.at("other"));
    EXPECT_NE(o, c);
    EXPECT_EQ(steps.size(), names.size() + 2);
    const size_t row = check_extreme(names, int_column(table, o), meta.at("highest"), steps);
    EXPECT_EQ(meta.at("row").get<size_t>(), row);
    const std::string& cell = table.rows.at(row).at(c);
    EXPECT_NE(cell, kMissingCell);
    EXPECT_EQ(steps.back(), names[row] + " " + col + "=" + cell);
    EXPECT_EQ(example.answer, cell);
  } else {
    ADD_FAILURE() << "unknown kind " << kind;
  }
  return kind;
}

bool has_heldout_letter(const std::string& text) {
  for (unsigned char c : text)
    if (std::isalpha(c) && std::strchr(kTableHeldoutLetters, std::tolower(c))) return true;
  return false;
}

// A number, maybe signed, with a unit or a currency or percent sign: not a vocabulary value.
bool is_number_like(const std::string& cell) {
  static const std::regex number(R"([-+$]?[0-9]+(\.[0-9]+)?(%| [A-Za-z]+)?|[0-9]{4}-[0-9]{2}-[0-9]{2})");
  return std::regex_match(cell, number);
}

size_t prompt_chars(const Example& example) {
  size_t chars = question_of(example).size();
  const Table& table = table_of(example);
  for (const auto& cell : table.header) chars += cell.size() + 1;
  for (const auto& row : table.rows)
    for (const auto& cell : row) chars += cell.size() + 1;
  return chars;
}

TEST(TableTask, ReferenceTracesReplayAgainstTheTableAtEveryDifficulty) {
  const TableTask task;
  const std::map<int, std::set<std::string>> expected_kinds = {{1, {"lookup", "which"}},
                                                               {2, {"lookup", "count", "extreme"}},
                                                               {3, {"lookup", "sum", "filter_sum", "extreme_lookup"}}};
  const std::map<int, std::pair<size_t, size_t>> row_range = {{1, {3, 5}}, {2, {4, 7}}, {3, {6, 10}}};
  const std::map<int, std::pair<size_t, size_t>> column_range = {{1, {3, 4}}, {2, {3, 5}}, {3, {4, 6}}};
  for (const Surface surface : {Surface::Trained, Surface::Heldout}) {
    for (int difficulty = 1; difficulty <= 3; ++difficulty) {
      Rng rng(seed_mix(5, static_cast<uint64_t>(difficulty), surface == Surface::Heldout));
      std::set<std::string> kinds;
      std::set<size_t> rows_seen, columns_seen;
      size_t longest = 0, total_chars = 0, most_tokens = 0, most_chars = 0;
      const int n = 2000;
      for (int i = 0; i < n; ++i) {
        const Example example = task.generate(rng, difficulty, surface);
        ASSERT_EQ(example.task, "table");
        ASSERT_EQ(example.difficulty, difficulty);
        ASSERT_EQ(example.prompt.size(), 2u);
        ASSERT_EQ(example.prompt[0].kind, SegmentKind::Table);
        ASSERT_EQ(example.prompt[1].kind, SegmentKind::Text);
        ASSERT_TRUE(example.problem_key.empty());
        const Table& table = table_of(example);
        ASSERT_NO_THROW(check_table(table, "generated"));
        rows_seen.insert(table.rows.size());
        columns_seen.insert(table.columns());
        EXPECT_GE(table.rows.size(), row_range.at(difficulty).first);
        EXPECT_LE(table.rows.size(), row_range.at(difficulty).second);
        EXPECT_GE(table.columns(), column_range.at(difficulty).first);
        EXPECT_LE(table.columns(), column_range.at(difficulty).second);
        std::set<std::string> names;
        for (const auto& row : table.rows) names.insert(normalized_answer(row.at(0)));
        EXPECT_EQ(names.size(), table.rows.size()) << "row names must be distinct ignoring case";
        for (const auto& column : table.header)
          for (const char* reserved : {"max", "min", "count"}) EXPECT_NE(normalized_answer(column), reserved);
        // The task's tables are what the loader reads back: to_csv then parse_csv gives the same cells.
        const Table back = parse_csv(to_csv(table), "round");
        EXPECT_EQ(back.header, table.header);
        EXPECT_EQ(back.rows, table.rows);

        const std::string kind = check_problem(example, surface);
        kinds.insert(kind);
        // The answer is copied from the table: a cell for lookups, a row name for which-row questions.
        if (kind == "lookup" || kind == "extreme_lookup" || kind == "which" || kind == "extreme") {
          bool found = false;
          for (const auto& row : table.rows) found = found || std::find(row.begin(), row.end(), example.answer) != row.end();
          EXPECT_TRUE(found) << example.answer;
        }
        EXPECT_LE(example.reasoning.size(), kTableTraceMaxChars) << example.reasoning;
        const size_t tokens = estimated_prompt_tokens(table, question_of(example));
        EXPECT_LE(tokens, kTablePromptMaxTokens);
        most_tokens = std::max(most_tokens, tokens);
        most_chars = std::max(most_chars, prompt_chars(example));
        longest = std::max(longest, example.reasoning.size());
        total_chars += example.reasoning.size();
        ASSERT_EQ(task.verify(example, example.answer), 1.0);
        if (::testing::Test::HasFailure()) {
          FAIL() << to_csv(table) << question_of(example) << "\n" << example.reasoning << " -> " << example.answer;
        }
      }
      EXPECT_EQ(kinds, expected_kinds.at(difficulty));
      EXPECT_EQ(rows_seen.size(), row_range.at(difficulty).second - row_range.at(difficulty).first + 1);
      EXPECT_EQ(columns_seen.size(), column_range.at(difficulty).second - column_range.at(difficulty).first + 1);
      std::printf("%s difficulty %d: trace mean %.1f chars, longest %zu; prompt up to %zu chars, ~%zu tokens\n",
                  surface_name(surface), difficulty, static_cast<double>(total_chars) / n, longest, most_chars, most_tokens);
    }
  }
}

TEST(TableTask, CellsComeFromOpenVocabularies) {
  const TableTask task;
  Rng rng(31);
  std::map<std::string, int> seen;
  std::set<std::string> row_names, column_names;
  const auto any = [](const std::string& text, const std::regex& pattern) { return std::regex_match(text, pattern); };
  const std::regex code(R"([A-Z]{1,2}-[0-9]{1,2}|[A-Z]{1,2}[0-9]|[a-z]{3}-[0-9]{3})");
  const std::regex date(R"(20[12][0-9]-[01][0-9]-[0-2][0-9])");
  for (int i = 0; i < 3000; ++i) {
    const Example example = task.generate(rng, 1 + i % 3);
    const Table& table = table_of(example);
    for (const auto& name : table.header) column_names.insert(name);
    for (const auto& row : table.rows) {
      row_names.insert(row[0]);
      if (any(row[0], code)) ++seen["code name"];
      if (std::isupper(static_cast<unsigned char>(row[0][0]))) ++seen["capitalised name"];
      for (size_t c = 1; c < row.size(); ++c) {
        const std::string& cell = row[c];
        if (cell == kMissingCell) ++seen["missing"];
        if (any(cell, std::regex(R"([0-9]+\.[0-9]+)"))) ++seen["decimal"];
        if (any(cell, std::regex(R"(-[0-9]+)"))) ++seen["negative"];
        if (any(cell, std::regex(R"([0-9.]+ (kg|g|m|cm|km|mi|L|ml|min|s))"))) ++seen["unit"];
        if (any(cell, std::regex(R"(\$[0-9.]+)"))) ++seen["money"];
        if (any(cell, std::regex(R"([0-9.]+%)"))) ++seen["percent"];
        if (any(cell, date)) ++seen["date"];
        if (any(cell, std::regex("[a-z]+"))) ++seen["word"];
      }
    }
    if (example.meta.at("kind") == "lookup") ++seen["lookup " + std::string(is_number_like(example.answer) ? "number" : "text")];
  }
  for (const char* what : {"code name", "capitalised name", "missing", "decimal", "negative", "unit", "money", "percent",
                           "date", "word", "lookup number", "lookup text"})
    EXPECT_GT(seen[what], 20) << what;
  EXPECT_GT(row_names.size(), 3000u) << "row names are generated, not a small fixed list";
  EXPECT_GT(column_names.size(), 150u) << "column names vary";
  EXPECT_TRUE(std::any_of(column_names.begin(), column_names.end(), [](const std::string& n) { return n.find(' ') != std::string::npos; }));
}

TEST(TableTask, HeldoutValuesNeverOccurInTraining) {
  const TableTask task;
  std::set<std::string> trained_values, heldout_values;
  for (const Surface surface : {Surface::Trained, Surface::Heldout}) {
    Rng rng(seed_mix(77, surface == Surface::Heldout));
    for (int i = 0; i < 4000; ++i) {
      const Example example = task.generate(rng, 1 + i % 3, surface);
      for (const auto& row : table_of(example).rows) {
        for (size_t c = 0; c < row.size(); ++c) {
          const std::string& cell = row[c];
          if (surface == Surface::Trained) {
            // Units ("cm") are shared; names, words and codes never have a held-out letter.
            if (c == 0 || !is_number_like(cell)) ASSERT_FALSE(has_heldout_letter(cell)) << "trained cell " << cell;
          } else if (c == 0 || (!is_number_like(cell) && cell != kMissingCell)) {
            // Every held-out name, word and code has a held-out letter; numbers and dates are shared.
            ASSERT_TRUE(has_heldout_letter(cell)) << "held-out cell " << cell;
          }
          if (!is_number_like(cell) && cell != kMissingCell)
            (surface == Surface::Trained ? trained_values : heldout_values).insert(normalized_answer(cell));
        }
      }
      if (surface == Surface::Heldout && !is_number_like(example.answer) && example.meta.at("kind") != "count")
        EXPECT_TRUE(has_heldout_letter(example.answer)) << example.answer;
    }
  }
  for (const auto& value : heldout_values) ASSERT_EQ(trained_values.count(value), 0u) << value;
  EXPECT_GT(trained_values.size(), 1000u);
  EXPECT_GT(heldout_values.size(), 1000u);
}

TEST(TableTask, WordingPoolsAreLargeAndDisjoint) {
  ASSERT_EQ(table_wording_pools().size(), 7u);
  std::set<std::string> all;
  for (const WordingPool* pool : table_wording_pools()) {
    EXPECT_NO_THROW(validate_wordings("table", *pool));
    EXPECT_GE(pool->trained.size(), 8u);
    EXPECT_GE(pool->heldout.size(), 4u);
    for (const auto& t : pool->trained) EXPECT_TRUE(all.insert(t).second) << "repeated template " << t;
    for (const auto& t : pool->heldout) EXPECT_TRUE(all.insert(t).second) << "repeated template " << t;
  }
  // Both surfaces use many templates of each kind (check_problem checks each question's pool).
  const TableTask task;
  for (const Surface surface : {Surface::Trained, Surface::Heldout}) {
    std::map<std::string, std::set<std::string>> questions_per_kind;
    Rng rng(9);
    for (int i = 0; i < 3000; ++i) {
      const Example example = task.generate(rng, 1 + i % 3, surface);
      check_problem(example, surface);
      const WordingPool& pool = pool_of_kind(example.meta.at("kind"));
      const auto& part = surface == Surface::Trained ? pool.trained : pool.heldout;
      for (const auto& t : part)
        if (fill_wording(t, slots_of(example)) == undecorated(question_of(example))) questions_per_kind[example.meta.at("kind")].insert(t);
    }
    EXPECT_EQ(questions_per_kind.size(), 7u);
    for (const auto& [kind, templates] : questions_per_kind)
      EXPECT_EQ(templates.size(), (surface == Surface::Trained ? pool_of_kind(kind).trained : pool_of_kind(kind).heldout).size())
          << kind;
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
      // A number with a unit is its exact cell text: the bare number is not it.
      const size_t space = example.answer.find(' ');
      if (space != std::string::npos) EXPECT_EQ(task.verify(example, example.answer.substr(0, space)), 0.0);
      if (example.answer[0] == '$') EXPECT_EQ(task.verify(example, example.answer.substr(1)), 0.0);
      for (const auto& row : table_of(example).rows)
        for (const auto& cell : row)
          if (normalized_answer(cell) != normalized_answer(example.answer)) EXPECT_EQ(task.verify(example, cell), 0.0);
    }
  }
  Example hand;
  hand.answer = "4.20 kg";
  EXPECT_EQ(task.verify(hand, " 4.20 KG "), 1.0);
  EXPECT_EQ(task.verify(hand, "4.2 kg"), 0.0);
  EXPECT_EQ(task.verify(hand, "4.20"), 0.0);
}

TEST(TableTask, SomeTrainingTablesHaveMissingCellsNeverAsked) {
  const TableTask task;
  Rng rng(13);
  int sparse = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const Example example = task.generate(rng, 1 + i % 3);
    bool missing = false;
    for (const auto& row : table_of(example).rows) missing = missing || std::count(row.begin(), row.end(), std::string(kMissingCell)) > 0;
    sparse += missing;
    EXPECT_NE(example.answer, kMissingCell);
  }
  EXPECT_GT(sparse, n / 10);
  EXPECT_LT(sparse, n / 2);
}

// Measured with the shipped model's tokenizer (trained on the mixture, digits split): the prompt, the trace and
// the answer fit the 384-token context with room for the chat format.
TEST(TableTask, PromptsAndTracesFitTheContextWithTheShippedTokenizer) {
  const std::string path = std::string(MUSE_SOURCE_DIR) + "/models/default/tokenizer.model";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  const Tokenizer tok = Tokenizer::load(path);
  const TableTask task;
  for (const Surface surface : {Surface::Trained, Surface::Heldout}) {
    for (int difficulty = 1; difficulty <= 3; ++difficulty) {
      Rng rng(seed_mix(41, static_cast<uint64_t>(difficulty), surface == Surface::Heldout));
      size_t most_prompt = 0, most_total = 0, sum_prompt = 0;
      const int n = 500;
      for (int i = 0; i < n; ++i) {
        const Example example = task.generate(rng, difficulty, surface);
        const Table& table = table_of(example);
        size_t prompt = 2 + tok.encode(question_of(example)).size();
        for (const auto* row : {&table.header}) {
          for (const auto& cell : *row) prompt += 1 + tok.encode(cell).size();
          prompt += 1;
        }
        for (const auto& row : table.rows) {
          for (const auto& cell : row) prompt += 1 + tok.encode(cell).size();
          prompt += 1;
        }
        const size_t total = prompt + tok.encode(example.reasoning).size() + tok.encode(example.answer).size();
        most_prompt = std::max(most_prompt, prompt);
        most_total = std::max(most_total, total);
        sum_prompt += prompt;
      }
      std::printf("%s difficulty %d: prompt mean %.0f, max %zu tokens; prompt + trace + answer max %zu tokens\n",
                  surface_name(surface), difficulty, static_cast<double>(sum_prompt) / n, most_prompt, most_total);
      EXPECT_LE(most_prompt, 280u);
      EXPECT_LE(most_total, 360u);
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
      const Surface surface = i % 2 ? Surface::Heldout : Surface::Trained;
      const Example a = task.generate(first, difficulty, surface);
      const Example b = task.generate(second, difficulty, surface);
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
    splits_by_question[undecorated(question_of(example))].insert(split_of(segments_key(example.prompt)));
  }
  size_t both = 0;
  for (const auto& [question, splits] : splits_by_question) both += splits.size() == 2;
  EXPECT_GT(both, 3u);  // any one proves the point; a few guard against luck
}

}  // namespace
}  // namespace muse

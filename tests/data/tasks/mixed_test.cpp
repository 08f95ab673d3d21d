#include "data/tasks/mixed.h"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "data/render/canvas.h"
#include "data/surface.h"
#include "data/tasks/arithmetic.h"
#include "util/error.h"

namespace muse {
namespace {

const Color kWhite{255, 255, 255};

Color at(const Image& image, int x, int y) {
  const uint8_t* p = image.pixel(x, y);
  return {p[0], p[1], p[2]};
}

const Segment& segment_of(const Example& example, SegmentKind kind) {
  for (const auto& segment : example.prompt)
    if (segment.kind == kind) return segment;
  throw std::runtime_error("no such segment");
}

std::vector<Example> examples(int difficulty, int count, uint64_t seed = 3) {
  MixedTask task;
  Rng rng(seed_mix(seed, difficulty));
  std::vector<Example> out;
  for (int i = 0; i < count; ++i) out.push_back(task.generate(rng, difficulty));
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos; start = at + 1)
    parts.push_back(text.substr(start, at - start));
  parts.push_back(text.substr(start));
  return parts;
}

TEST(MixedTask, ReferenceAnswersVerifyAndWrongOnesDoNot) {
  MixedTask task;
  for (int difficulty = 1; difficulty <= 2; ++difficulty) {
    for (const Example& example : examples(difficulty, 300)) {
      ASSERT_EQ(task.verify(example, example.answer), 1.0) << example.reasoning;
      EXPECT_EQ(task.verify(example, "\t" + example.answer + " \n"), 1.0);
      const int64_t value = std::stoll(example.answer);
      EXPECT_EQ(task.verify(example, std::to_string(value + 1)), 0.0);
      EXPECT_EQ(task.verify(example, std::to_string(value - 1)), 0.0);
      EXPECT_EQ(task.verify(example, example.answer + "0"), 0.0);
      for (const std::string& junk : std::vector<std::string>{"", " ", "x", "\xc3\x28", std::string(5000, '1'), "+" + example.answer})
        EXPECT_EQ(task.verify(example, junk), 0.0);
    }
  }
}

TEST(MixedTask, VerifyNeverThrowsOnMalformedMeta) {
  MixedTask task;
  Example example;
  EXPECT_EQ(task.verify(example, "1"), 0.0);
  example.meta = {{"kind", "number"}, {"number", -4}, {"op", "+"}, {"operand", 2}};
  EXPECT_EQ(task.verify(example, "-2"), 0.0);
  example.meta = {{"kind", "number"}, {"number", 4}, {"op", "/"}, {"operand", 2}};
  EXPECT_EQ(task.verify(example, "2"), 0.0);
  example.meta = {{"kind", "cost"}, {"labels", {"A"}}, {"values", {2}}, {"prices", {3}}, {"items", {"B"}}};
  EXPECT_EQ(task.verify(example, "6"), 0.0);
  example.meta = {{"kind", "cost"}, {"labels", "A"}};
  EXPECT_EQ(task.verify(example, "6"), 0.0);
  example.meta = {{"kind", "poem"}};
  EXPECT_EQ(task.verify(example, ""), 0.0);
  // Hand-built problems verify from their meta alone.
  example.meta = {{"kind", "cost"}, {"labels", {"A", "B"}}, {"values", {2, 7}}, {"prices", {3, 4}}, {"items", {"B", "A"}}};
  EXPECT_EQ(task.verify(example, "34"), 1.0);
  example.meta = {{"kind", "number"}, {"number", 48}, {"op", "-"}, {"operand", 50}};
  EXPECT_EQ(task.verify(example, "-2"), 1.0);
}

// The cost kind: the table and the chart hold the meta's prices and quantities, and the trace reads them.
void check_cost(const Example& example) {
  const auto labels = example.meta["labels"].get<std::vector<std::string>>();
  const auto quantities = example.meta["values"].get<std::vector<int>>();
  const auto prices = example.meta["prices"].get<std::vector<int>>();
  const auto colors = example.meta["colors"].get<std::vector<std::string>>();
  const auto items = example.meta["items"].get<std::vector<std::string>>();
  const int n = static_cast<int>(labels.size());
  ASSERT_EQ(example.prompt.size(), 3u);

  const Table& table = *segment_of(example, SegmentKind::Table).table;
  EXPECT_NO_THROW(check_table(table, "mixed"));
  EXPECT_EQ(table.header, (std::vector<std::string>{"item", "price"}));
  ASSERT_EQ(table.rows.size(), labels.size());
  std::map<std::string, int> price_of, quantity_of;
  for (const auto& row : table.rows) price_of[row.at(0)] = std::stoi(row.at(1));
  for (int c = 0; c < n; ++c) {
    EXPECT_EQ(labels[static_cast<size_t>(c)], std::string(1, static_cast<char>('A' + c)));
    EXPECT_EQ(price_of.at(labels[static_cast<size_t>(c)]), prices[static_cast<size_t>(c)]);
  }
  if (example.difficulty == 1)
    for (int c = 0; c < n; ++c) EXPECT_EQ(table.rows[static_cast<size_t>(c)][0], labels[static_cast<size_t>(c)]);

  // Quantities read back from the pixels: each bar's top row is 56 - 4 * quantity, in its colour.
  const Image& image = *segment_of(example, SegmentKind::Image).image;
  ASSERT_EQ(image.width, 8 * n);
  ASSERT_EQ(image.height, 64);
  EXPECT_LE(((image.width + 7) / 8) * ((image.height + 7) / 8), 64);
  for (int c = 0; c < n; ++c) {
    const Color color = color_by_name(colors[static_cast<size_t>(c)]);
    int top = -1;
    for (int y = 0; y < 56 && top < 0; ++y)
      if (at(image, 8 * c + 3, y) == color) top = y;
    ASSERT_GE(top, 0);
    EXPECT_EQ(top % 4, 0);
    quantity_of[labels[static_cast<size_t>(c)]] = (56 - top) / 4;
    EXPECT_EQ((56 - top) / 4, quantities[static_cast<size_t>(c)]);
    for (int y = top; y < 56; ++y)
      for (int x = 8 * c + 1; x < 8 * c + 7; ++x) ASSERT_EQ(at(image, x, y), color);
  }

  // The trace, recomputed from what the prompt shows.
  std::string reading, lookup, products;
  std::vector<int> costs;
  for (size_t k = 0; k < items.size(); ++k) {
    const int q = quantity_of.at(items[k]), p = price_of.at(items[k]);
    reading += (k ? " " : "") + items[k] + std::to_string(q);
    lookup += " " + items[k] + std::to_string(p);
    products += (k ? "|" : "") + std::to_string(q) + "*" + std::to_string(p) + "=" + std::to_string(q * p);
    costs.push_back(q * p);
  }
  std::string trace = reading + "|price" + lookup + "|" + products;
  int total = costs[0];
  if (costs.size() == 2) {
    trace += "|" + solve_arithmetic(costs[0], '+', costs[1]).reasoning;
    total += costs[1];
  }
  EXPECT_EQ(example.reasoning, trace);
  EXPECT_EQ(example.answer, std::to_string(total));
  const std::string question = segments_text(example.prompt);
  for (const auto& item : items) EXPECT_NE(question.find(" " + item + " "), std::string::npos) << question;
}

// The number kind: the image is exactly the number's digits at the meta's place, and the trace does the sum.
void check_number(const Example& example) {
  const int64_t number = example.meta["number"], operand = example.meta["operand"];
  const std::string op = example.meta["op"];
  const int x0 = example.meta["x"], y0 = example.meta["y"];
  const Color color = color_by_name(example.meta["color"].get<std::string>());
  ASSERT_EQ(example.prompt.size(), 2u);
  const Image& image = *segment_of(example, SegmentKind::Image).image;
  ASSERT_EQ(image.width, 64);
  ASSERT_EQ(image.height, 32);
  EXPECT_EQ(x0 % 8, 0);
  EXPECT_EQ(y0 % 8, 0);
  const std::string digits = std::to_string(number);
  Canvas expected(64, 32);
  for (size_t i = 0; i < digits.size(); ++i) expected.draw_text(x0 + 16 * static_cast<int>(i) + 3, y0 + 1, digits.substr(i, 1), color, 2);
  ASSERT_EQ(image.rgb, expected.image().rgb);
  // Every digit has its own 2x2 patch block, fully inside the image, and nothing is drawn elsewhere.
  EXPECT_LE(x0 + 16 * static_cast<int>(digits.size()), 64);
  EXPECT_LE(y0 + 16, 32);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x) {
      const bool in_digits = x >= x0 && x < x0 + 16 * static_cast<int>(digits.size()) && y >= y0 && y < y0 + 16;
      const Color c = at(image, x, y);
      if (!in_digits) ASSERT_EQ(c, kWhite);
      else ASSERT_TRUE(c == kWhite || c == color);
    }
  for (size_t i = 0; i < digits.size(); ++i) {
    int inked = 0;
    for (int y = y0; y < y0 + 16; ++y)
      for (int x = x0 + 16 * static_cast<int>(i); x < x0 + 16 * static_cast<int>(i) + 16; ++x) inked += at(image, x, y) == color;
    EXPECT_GT(inked, 10) << digits;
  }

  int64_t result = op == "+" ? number + operand : op == "-" ? number - operand : number * operand;
  EXPECT_GE(result, 0);
  EXPECT_EQ(example.answer, std::to_string(result));
  const auto fields = split(example.reasoning, '|');
  EXPECT_EQ(fields.front(), digits);
  EXPECT_EQ(fields.back(), "=" + std::to_string(result));
  EXPECT_EQ(example.reasoning, digits + "|" + solve_arithmetic(number, op[0], operand).reasoning);
  const std::string question = segments_text(example.prompt);
  EXPECT_NE(question.find(std::to_string(operand)), std::string::npos);
  if (std::to_string(operand).find(digits) == std::string::npos)
    EXPECT_EQ(question.find(digits), std::string::npos) << "the question must not give the number away";
}

TEST(MixedTask, PromptsTracesAndPixelsAgreeWithTheMeta) {
  for (int difficulty = 1; difficulty <= 2; ++difficulty) {
    for (const Example& example : examples(difficulty, 400)) {
      EXPECT_LE(example.reasoning.size(), 160u) << example.reasoning;
      if (example.meta["kind"] == "cost") check_cost(example);
      else check_number(example);
    }
  }
}

TEST(MixedTask, DifficultyControlsSizes) {
  for (int difficulty = 1; difficulty <= 2; ++difficulty) {
    std::set<std::string> kinds, ops;
    std::set<size_t> items, bars;
    int64_t smallest = 1 << 30, largest = 0;
    for (const Example& example : examples(difficulty, 600)) {
      kinds.insert(example.meta["kind"].get<std::string>());
      if (example.meta["kind"] == "cost") {
        items.insert(example.meta["items"].size());
        bars.insert(example.meta["labels"].size());
        for (int q : example.meta["values"].get<std::vector<int>>()) EXPECT_TRUE(q >= 1 && q <= 9);
        for (int p : example.meta["prices"].get<std::vector<int>>()) EXPECT_TRUE(p >= 1 && p <= 9);
      } else {
        const std::string op = example.meta["op"];
        ops.insert(op);
        const int64_t number = example.meta["number"];
        if (op != "*") {
          smallest = std::min(smallest, number);
          largest = std::max(largest, number);
        }
      }
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"cost", "number"}));
    if (difficulty == 1) {
      EXPECT_EQ(items, std::set<size_t>{1});
      EXPECT_EQ(bars, (std::set<size_t>{3, 4}));
      EXPECT_EQ(ops, (std::set<std::string>{"+", "-"}));
      EXPECT_GE(smallest, 1);
      EXPECT_LE(largest, 99);
    } else {
      EXPECT_EQ(items, (std::set<size_t>{1, 2}));
      EXPECT_EQ(bars, (std::set<size_t>{4, 5, 6}));
      EXPECT_EQ(ops, (std::set<std::string>{"+", "-", "*"}));
      EXPECT_GE(smallest, 100);
      EXPECT_LE(largest, 999);
    }
  }
}

TEST(MixedTask, DeterministicPerSeedAndVaried) {
  MixedTask task;
  for (int difficulty = 1; difficulty <= 2; ++difficulty) {
    Rng a(42), b(42);
    for (int i = 0; i < 50; ++i) {
      const Example x = task.generate(a, difficulty), y = task.generate(b, difficulty);
      EXPECT_EQ(segments_key(x.prompt), segments_key(y.prompt));
      EXPECT_EQ(x.reasoning, y.reasoning);
      EXPECT_EQ(x.answer, y.answer);
      EXPECT_EQ(x.meta, y.meta);
    }
    std::set<std::string> keys;
    for (const Example& example : examples(difficulty, 3000, 17)) keys.insert(segments_key(example.prompt));
    EXPECT_GE(keys.size(), 2950u) << difficulty;
  }
}

TEST(MixedTask, BothSplitsAreReachable) {
  MixedTask task;
  Rng rng(8);
  for (int difficulty = 1; difficulty <= 2; ++difficulty) {
    EXPECT_EQ(split_of(segments_key(task.sample(rng, difficulty, Split::Train).prompt)), Split::Train);
    EXPECT_EQ(split_of(segments_key(task.sample(rng, difficulty, Split::Heldout).prompt)), Split::Heldout);
  }
}

TEST(MixedTask, WordingPoolsAreLargeDisjointAndUsedPerSurface) {
  const std::vector<MixedWording> all = {MixedWording::CostOne, MixedWording::CostTwo, MixedWording::Add,
                                         MixedWording::Sub, MixedWording::Mul};
  for (MixedWording which : all) {
    const WordingPool& pool = mixed_wordings(which);
    EXPECT_NO_THROW(validate_wordings("mixed", pool));
    EXPECT_GE(pool.trained.size(), 8u);
    EXPECT_GE(pool.heldout.size(), 4u);
  }
  MixedTask task;
  for (const Surface surface : {Surface::Trained, Surface::Heldout}) {
    Rng rng(seed_mix(4, surface == Surface::Heldout));
    std::map<int, std::set<std::string>> used;  // templates seen per pool
    for (int i = 0; i < 3000; ++i) {
      const Example example = task.generate(rng, 1 + i % 2, surface);
      ASSERT_EQ(task.verify(example, example.answer), 1.0);
      const std::string question = undecorated(example.prompt.back().text);
      WordingSlots slots;
      MixedWording which;
      if (example.meta["kind"] == "cost") {
        const auto items = example.meta["items"].get<std::vector<std::string>>();
        which = items.size() == 1 ? MixedWording::CostOne : MixedWording::CostTwo;
        slots = items.size() == 1 ? WordingSlots{{"item", items[0]}} : WordingSlots{{"a", items[0]}, {"b", items[1]}};
      } else {
        const std::string op = example.meta["op"];
        which = op == "+" ? MixedWording::Add : op == "-" ? MixedWording::Sub : MixedWording::Mul;
        slots = {{"n", std::to_string(example.meta["operand"].get<int64_t>())}};
      }
      const WordingPool& pool = mixed_wordings(which);
      const auto& mine = surface == Surface::Trained ? pool.trained : pool.heldout;
      const auto& theirs = surface == Surface::Trained ? pool.heldout : pool.trained;
      bool found = false;
      for (const auto& t : mine)
        if (fill_wording(t, slots) == question) found = true, used[static_cast<int>(which)].insert(t);
      EXPECT_TRUE(found) << question;
      for (const auto& t : theirs) EXPECT_NE(fill_wording(t, slots), question);
    }
    ASSERT_EQ(used.size(), all.size());
    for (MixedWording which : all) {
      const WordingPool& pool = mixed_wordings(which);
      EXPECT_EQ(used[static_cast<int>(which)].size(), (surface == Surface::Trained ? pool.trained : pool.heldout).size());
    }
  }
}

TEST(MixedTask, HeldoutSurfaceKeepsTheProblemChecks) {
  MixedTask task;
  Rng rng(12);
  for (int i = 0; i < 400; ++i) {
    const Example example = task.generate(rng, 1 + i % 2, Surface::Heldout);
    if (example.meta["kind"] == "cost") check_cost(example);
    else check_number(example);
  }
}

TEST(MixedTask, DifficultyOutOfRangeThrows) {
  MixedTask task;
  Rng rng(1);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 3), MuseError);
  EXPECT_FALSE(task.description().empty());
}

}  // namespace
}  // namespace muse

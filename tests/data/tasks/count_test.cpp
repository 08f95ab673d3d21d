#include "data/tasks/count.h"

#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "data/render/canvas.h"
#include "util/error.h"

namespace muse {
namespace {

const Image& image_of(const Example& example) {
  EXPECT_EQ(example.prompt.size(), 2u);
  EXPECT_EQ(example.prompt.at(0).kind, SegmentKind::Image);
  return *example.prompt.at(0).image;
}

const std::string& question_of(const Example& example) {
  EXPECT_EQ(example.prompt.at(1).kind, SegmentKind::Text);
  return example.prompt.at(1).text;
}

Color pixel_at(const Image& image, int x, int y) {
  const uint8_t* p = image.pixel(x, y);
  return {p[0], p[1], p[2]};
}

// Generates `n` problems at every difficulty with a fixed seed.
template <typename F>
void for_each_problem(int n, F check) {
  CountTask task;
  for (int difficulty = task.min_difficulty(); difficulty <= task.max_difficulty(); ++difficulty) {
    Rng rng(seed_mix(11, static_cast<uint64_t>(difficulty)));
    for (int i = 0; i < n; ++i) check(task, task.generate(rng, difficulty), difficulty);
  }
}

TEST(CountTask, DifficultyRangeIsOneToFour) {
  CountTask task;
  EXPECT_EQ(task.min_difficulty(), 1);
  EXPECT_EQ(task.max_difficulty(), 4);
  Rng rng(0);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 5), MuseError);
  EXPECT_EQ(make_task("count")->name(), "count");
}

TEST(CountTask, ReferenceAnswerVerifiesAndWrongOnesDoNot) {
  for_each_problem(100, [](const CountTask& task, const Example& example, int) {
    EXPECT_EQ(task.verify(example, example.answer), 1.0);
    EXPECT_EQ(task.verify(example, "  " + example.answer + "\n"), 1.0);
    const int count = example.meta["count"].get<int>();
    EXPECT_EQ(task.verify(example, std::to_string(count + 1)), 0.0);
    EXPECT_EQ(task.verify(example, std::to_string(count - 1)), 0.0);
    EXPECT_EQ(task.verify(example, "0" + example.answer), 0.0);
    EXPECT_EQ(task.verify(example, example.answer + "."), 0.0);
    EXPECT_EQ(task.verify(example, ""), 0.0);
  });
}

TEST(CountTask, VerifyNeverThrows) {
  CountTask task;
  Rng rng(1);
  const Example example = task.generate(rng, 4);
  for (const std::string answer : {std::string(10000, '9'), std::string("\xff\xfe", 2), std::string(3, '\0'),
                                   std::string("-"), std::string("1e3"), std::string("   ")})
    EXPECT_EQ(task.verify(example, answer), 0.0);
  Example empty;  // no meta at all
  EXPECT_NO_THROW(task.verify(empty, "3"));
}

TEST(CountTask, TraceListsTheMatchingCellsRecountedFromMeta) {
  for_each_problem(300, [](const CountTask&, const Example& example, int) {
    const nlohmann::json& meta = example.meta;
    const std::string color = meta["color"], shape = meta["shape"];
    // Independent recount: raster order over the grid, matching every constrained attribute.
    std::map<std::pair<int, int>, nlohmann::json> by_cell;
    for (const auto& object : meta["objects"]) {
      const auto cell = std::make_pair(object["row"].get<int>(), object["col"].get<int>());
      EXPECT_EQ(by_cell.count(cell), 0u) << "two objects in one cell";
      by_cell[cell] = object;
    }
    std::string expected;
    int count = 0;
    for (const auto& [cell, object] : by_cell)
      if ((color == "any" || object["color"] == color) && (shape == "any" || object["shape"] == shape)) {
        expected += "r" + std::to_string(cell.first) + "c" + std::to_string(cell.second) + " ";
        ++count;
      }
    expected += "=" + std::to_string(count);
    EXPECT_EQ(example.reasoning, expected);
    EXPECT_EQ(example.answer, std::to_string(count));
    EXPECT_EQ(meta["count"].get<int>(), count);
    EXPECT_LE(example.reasoning.size(), 80u);
    EXPECT_TRUE(std::regex_match(example.reasoning, std::regex(R"((r\dc\d )*=\d)"))) << example.reasoning;
  });
}

TEST(CountTask, QuestionNamesTheQuery) {
  for_each_problem(200, [](const CountTask&, const Example& example, int difficulty) {
    const std::string color = example.meta["color"], shape = example.meta["shape"];
    std::string expected = "How many ";
    if (color != "any") expected += color + " ";
    expected += (shape != "any" ? shape : "shape") + "s?";
    EXPECT_EQ(question_of(example), expected);
    if (difficulty < 4) {
      EXPECT_NE(color, "any");
      EXPECT_NE(shape, "any");
    }
  });
}

TEST(CountTask, ImageFitsTheFirstViewWithOneObjectPerPatch) {
  for_each_problem(200, [](const CountTask&, const Example& example, int difficulty) {
    const Image& image = image_of(example);
    const int grid = example.meta["grid"], cell = example.meta["cell"];
    EXPECT_EQ(cell, 8);
    EXPECT_EQ(grid, difficulty == 1 ? 5 : difficulty == 2 ? 6 : 8);
    EXPECT_EQ(image.width, grid * 8);
    EXPECT_EQ(image.height, grid * 8);
    EXPECT_LE(((image.width + 7) / 8) * ((image.height + 7) / 8), 64);
    EXPECT_EQ(image.rgb.size(), static_cast<size_t>(image.width) * image.height * 3);
    for (const auto& object : example.meta["objects"]) {
      const int x = object["x"], y = object["y"], r = object["radius"], row = object["row"], col = object["col"];
      // The shape's whole box lies inside its own cell (= patch).
      EXPECT_GE(x - r, col * 8);
      EXPECT_LE(x + r, col * 8 + 7);
      EXPECT_GE(y - r, row * 8);
      EXPECT_LE(y + r, row * 8 + 7);
      if (difficulty < 4) {
        EXPECT_EQ(r, 3);
        EXPECT_EQ(x, col * 8 + 3);
        EXPECT_EQ(y, row * 8 + 3);
      } else {
        EXPECT_TRUE(r == 2 || r == 3);
      }
    }
  });
}

TEST(CountTask, PixelsShowExactlyTheObjectsInMeta) {
  for_each_problem(100, [](const CountTask&, const Example& example, int) {
    const Image& image = image_of(example);
    const int grid = example.meta["grid"];
    std::map<std::pair<int, int>, nlohmann::json> by_cell;
    for (const auto& object : example.meta["objects"])
      by_cell[{object["row"].get<int>(), object["col"].get<int>()}] = object;
    const Color white{255, 255, 255};
    for (int row = 0; row < grid; ++row)
      for (int col = 0; col < grid; ++col) {
        const auto it = by_cell.find({row, col});
        int ink = 0;
        for (int y = row * 8; y < row * 8 + 8; ++y)
          for (int x = col * 8; x < col * 8 + 8; ++x) {
            const Color c = pixel_at(image, x, y);
            if (c == white) continue;
            ++ink;
            ASSERT_NE(it, by_cell.end()) << "ink in empty cell r" << row << "c" << col;
            EXPECT_EQ(c, color_by_name(it->second["color"])) << "r" << row << "c" << col;
          }
        if (it == by_cell.end()) continue;
        const nlohmann::json& object = it->second;
        const int x = object["x"], y = object["y"], r = object["radius"];
        EXPECT_EQ(pixel_at(image, x, y), color_by_name(object["color"]));
        // The shape is told apart by its corners and apex: a square fills its box, a circle leaves the four
        // corners white, a triangle leaves the top corners white but fills the bottom ones.
        const std::string shape = object["shape"];
        const bool top_corners = pixel_at(image, x - r, y - r) != white && pixel_at(image, x + r, y - r) != white;
        const bool bottom_corners = pixel_at(image, x - r, y + r) != white && pixel_at(image, x + r, y + r) != white;
        EXPECT_EQ(top_corners, shape == "square") << shape;
        EXPECT_EQ(bottom_corners, shape != "circle") << shape;
        const int box = (2 * r + 1) * (2 * r + 1);
        if (shape == "square") EXPECT_EQ(ink, box);
        if (shape != "square") EXPECT_LT(ink, box);
      }
  });
}

TEST(CountTask, DifficultyScalesObjectsAndDistractors) {
  CountTask task;
  const int max_targets[] = {3, 5, 7, 9};
  for (int difficulty = 1; difficulty <= 4; ++difficulty) {
    Rng rng(seed_mix(5, static_cast<uint64_t>(difficulty)));
    std::set<int> counts;
    int near_misses = 0, partial = 0;
    for (int i = 0; i < 1000; ++i) {
      const Example example = task.generate(rng, difficulty);
      const int count = example.meta["count"];
      const std::string color = example.meta["color"], shape = example.meta["shape"];
      counts.insert(count);
      partial += color == "any" || shape == "any";
      std::set<std::string> shapes;
      for (const auto& object : example.meta["objects"]) {
        shapes.insert(object["shape"].get<std::string>());
        const bool same_color = object["color"] == color, same_shape = object["shape"] == shape;
        if (color != "any" && shape != "any" && same_color != same_shape) {
          if (difficulty <= 2) EXPECT_FALSE(same_color) << "colour alone decides below difficulty 3";
          near_misses += same_color;
        }
      }
      if (difficulty == 1) EXPECT_EQ(shapes.size(), 1u);
      const int objects = static_cast<int>(example.meta["objects"].size());
      EXPECT_GE(objects - count, difficulty <= 2 ? 1 : difficulty == 3 ? 2 : 3);
    }
    EXPECT_EQ(*counts.begin(), difficulty <= 2 ? 1 : 0);
    EXPECT_EQ(*counts.rbegin(), max_targets[difficulty - 1]);
    EXPECT_EQ(static_cast<int>(counts.size()), max_targets[difficulty - 1] + (difficulty <= 2 ? 0 : 1));
    if (difficulty >= 3) EXPECT_GT(near_misses, 500);
    if (difficulty < 4) EXPECT_EQ(partial, 0);
    if (difficulty == 4) EXPECT_NEAR(partial, 400, 80);
  }
}

TEST(CountTask, DeterministicPerSeed) {
  CountTask task;
  for (int difficulty = 1; difficulty <= 4; ++difficulty) {
    Rng a(42), b(42);
    for (int i = 0; i < 20; ++i) {
      const Example x = task.generate(a, difficulty), y = task.generate(b, difficulty);
      EXPECT_EQ(image_of(x).rgb, image_of(y).rgb);
      EXPECT_EQ(question_of(x), question_of(y));
      EXPECT_EQ(x.reasoning, y.reasoning);
      EXPECT_EQ(x.meta, y.meta);
    }
  }
}

TEST(CountTask, ManyDistinctProblemsPerDifficulty) {
  CountTask task;
  for (int difficulty = 1; difficulty <= 4; ++difficulty) {
    Rng rng(seed_mix(9, static_cast<uint64_t>(difficulty)));
    std::set<std::string> keys;
    const int n = 3000;
    for (int i = 0; i < n; ++i) keys.insert(segments_key(task.generate(rng, difficulty).prompt));
    // R repeats among n draws suggest about n^2 / 2R equally likely problems: <= 5 repeats means >= 900,000.
    EXPECT_GE(keys.size(), static_cast<size_t>(n - 5)) << difficulty;
  }
}

}  // namespace
}  // namespace muse

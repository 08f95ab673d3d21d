#include "data/tasks/grid.h"

#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "data/render/canvas.h"
#include "data/render/style.h"
#include "util/error.h"

namespace muse {
namespace {

const Image& image_of(const Example& example) {
  EXPECT_EQ(example.prompt.size(), 2u);
  EXPECT_EQ(example.prompt.at(0).kind, SegmentKind::Image);
  return *example.prompt.at(0).image;
}

// The question's template filled in: the decoration around it (data/surface.h) stripped.
std::string question_of(const Example& example) {
  EXPECT_EQ(example.prompt.at(1).kind, SegmentKind::Text);
  return undecorated(example.prompt.at(1).text);
}

template <typename F>
void for_each_problem(int n, F check) {
  GridTask task;
  for (int difficulty = task.min_difficulty(); difficulty <= task.max_difficulty(); ++difficulty) {
    Rng rng(seed_mix(21, static_cast<uint64_t>(difficulty)));
    for (int i = 0; i < n; ++i) check(task, task.generate(rng, difficulty), difficulty);
  }
}

// Distances from the start by relaxation to a fixed point (not a queue-based BFS): -1 where unreachable.
std::vector<std::vector<int>> distances(const std::vector<std::string>& maze, int start_r, int start_c) {
  const int n = static_cast<int>(maze.size());
  std::vector<std::vector<int>> dist(n, std::vector<int>(n, -1));
  dist[start_r][start_c] = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (int r = 0; r < n; ++r)
      for (int c = 0; c < n; ++c) {
        if (maze[r][c] == '#') continue;
        for (auto [dr, dc] : std::vector<std::pair<int, int>>{{-1, 0}, {1, 0}, {0, -1}, {0, 1}}) {
          const int pr = r + dr, pc = c + dc;
          if (pr < 0 || pc < 0 || pr >= n || pc >= n || dist[pr][pc] < 0) continue;
          if (dist[r][c] < 0 || dist[pr][pc] + 1 < dist[r][c]) {
            dist[r][c] = dist[pr][pc] + 1;
            changed = true;
          }
        }
      }
  }
  return dist;
}

bool in_pool(const std::vector<std::string>& part, const std::string& text) {
  return std::find(part.begin(), part.end(), text) != part.end();
}

Color rgb_of(const nlohmann::json& j) {
  return {static_cast<uint8_t>(j[0].get<int>()), static_cast<uint8_t>(j[1].get<int>()),
          static_cast<uint8_t>(j[2].get<int>())};
}

std::vector<std::string> maze_of(const Example& example) {
  return example.meta["maze"].get<std::vector<std::string>>();
}

TEST(GridTask, DifficultyRangeIsOneToFive) {
  GridTask task;
  EXPECT_EQ(task.min_difficulty(), 1);
  EXPECT_EQ(task.max_difficulty(), 5);
  Rng rng(0);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 6), MuseError);
  EXPECT_EQ(make_task("grid")->name(), "grid");
}

TEST(GridTask, ReferenceAnswerVerifiesAndWrongOnesDoNot) {
  for_each_problem(100, [](const GridTask& task, const Example& example, int) {
    EXPECT_EQ(task.verify(example, example.answer), 1.0);
    EXPECT_EQ(task.verify(example, " " + example.answer + " \n"), 1.0);
    std::string upper = example.answer;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(task.verify(example, upper), 1.0);
    const int distance = example.meta["distance"];
    if (example.meta["question"] == "path") {
      EXPECT_EQ(task.verify(example, distance >= 0 ? "no" : "yes"), 0.0);
      EXPECT_EQ(task.verify(example, distance >= 0 ? "y" : "n"), 0.0);
    } else {
      EXPECT_EQ(task.verify(example, distance >= 0 ? "none" : "0"), 0.0);
      if (distance >= 0) EXPECT_EQ(task.verify(example, std::to_string(distance + 1)), 0.0);
    }
    EXPECT_EQ(task.verify(example, ""), 0.0);
  });
}

TEST(GridTask, VerifyNeverThrows) {
  GridTask task;
  Rng rng(2);
  const Example example = task.generate(rng, 3);
  for (const std::string answer : {std::string(10000, 'y'), std::string("\xff\xfe", 2), std::string(3, '\0')})
    EXPECT_EQ(task.verify(example, answer), 0.0);
  Example empty;
  EXPECT_NO_THROW(task.verify(empty, "yes"));
}

TEST(GridTask, TraceIsTheBreadthFirstSearchRecomputedFromMeta) {
  for_each_problem(200, [](const GridTask&, const Example& example, int) {
    const std::vector<std::string> maze = maze_of(example);
    const int n = static_cast<int>(maze.size());
    const int sr = example.meta["start"][0], sc = example.meta["start"][1];
    const int gr = example.meta["goal"][0], gc = example.meta["goal"][1];
    ASSERT_EQ(maze[sr][sc], 'S');
    ASSERT_EQ(maze[gr][gc], 'G');
    const auto dist = distances(maze, sr, sc);
    const int goal_distance = dist[gr][gc];
    EXPECT_EQ(example.meta["distance"].get<int>(), goal_distance);

    std::string expected;
    for (int d = 1;; ++d) {
      expected += (d > 1 ? "|d" : "d") + std::to_string(d);
      if (d == goal_distance) {
        expected += " r" + std::to_string(gr) + "c" + std::to_string(gc) + " goal";
        break;
      }
      std::string layer;
      for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c)
          if (dist[r][c] == d) layer += " r" + std::to_string(r) + "c" + std::to_string(c);
      if (layer.empty()) {
        expected += " none";
        break;
      }
      expected += layer;
    }
    std::string answer;
    if (example.meta["question"] == "path") {
      EXPECT_TRUE(in_pool(grid_wordings("path").trained, question_of(example))) << question_of(example);
      answer = goal_distance >= 0 ? "yes" : "no";
    } else {
      EXPECT_TRUE(in_pool(grid_wordings("length").trained, question_of(example))) << question_of(example);
      answer = goal_distance >= 0 ? std::to_string(goal_distance) : "none";
    }
    EXPECT_EQ(example.answer, answer);
    EXPECT_EQ(example.reasoning, expected + " =" + answer);
    EXPECT_LE(example.reasoning.size(), kGridTraceBudget);
  });
}

// Cells of `cell` pixels (quarter-pixel multiples, so not on the patch grid) after a margin: the middle of
// every cell shows its kind's colour exactly; free cells show the background.
TEST(GridTask, PixelsShowTheMazeInItsCellsAndStyle) {
  std::set<double> cells;
  int downscaled = 0, total = 0, partial_seen = 0;
  for_each_problem(100, [&](const GridTask&, const Example& example, int difficulty) {
    const Image& image = image_of(example);
    const std::vector<std::string> maze = maze_of(example);
    const int n = example.meta["size"];
    EXPECT_EQ(n, 3 + difficulty);
    const double cell = example.meta["cell"];
    const int margin = example.meta["margin"];
    cells.insert(cell);
    EXPECT_GE(cell, difficulty <= 2 ? 8 : 7);
    EXPECT_LE(cell, difficulty <= 2 ? 14 : 12);
    ASSERT_EQ(static_cast<int>(maze.size()), n);
    ASSERT_EQ(image.width, image.height);
    ASSERT_EQ(image.width, 2 * margin + static_cast<int>(std::ceil(n * cell)));
    ++total;
    downscaled += ((image.width + 7) / 8) * ((image.height + 7) / 8) > 64;
    const auto& style = example.meta["style"];
    Color background{};
    for (const auto& [name, color] : style_backgrounds())
      if (name == style["background"]) background = color;
    const Color wall = rgb_of(example.meta["colors"]["wall"]), start = rgb_of(example.meta["colors"]["start"]),
                goal = rgb_of(example.meta["colors"]["goal"]);
    int starts = 0, goals = 0;
    for (int r = 0; r < n; ++r) {
      ASSERT_EQ(static_cast<int>(maze[r].size()), n);
      for (int c = 0; c < n; ++c) {
        const char kind = maze[r][c];
        starts += kind == 'S';
        goals += kind == 'G';
        ASSERT_TRUE(kind == '#' || kind == '.' || kind == 'S' || kind == 'G') << kind;
        const Color expected = kind == '#' ? wall : kind == '.' ? background : kind == 'S' ? start : goal;
        const int x = static_cast<int>(margin + (c + 0.5) * cell), y = static_cast<int>(margin + (r + 0.5) * cell);
        const uint8_t* p = image.pixel(x, y);
        ASSERT_EQ((Color{p[0], p[1], p[2]}), expected) << "cell r" << r << "c" << c;
      }
    }
    EXPECT_EQ(starts, 1);
    EXPECT_EQ(goals, 1);
    if (style["antialias"].get<bool>())
      for (int x = 0; x < image.width; ++x) {
        const uint8_t* p = image.pixel(x, image.height / 2);
        const Color c{p[0], p[1], p[2]};
        partial_seen += c != wall && c != start && c != goal && c != background;
      }
  });
  EXPECT_GT(cells.size(), 20u);
  EXPECT_GT(downscaled, total / 3);
  EXPECT_GT(partial_seen, 0);
}

TEST(GridTask, WordingsAndHeldoutStyleFollowTheSurface) {
  for (const std::string kind : {"path", "length"}) {
    EXPECT_NO_THROW(validate_wordings(kind, grid_wordings(kind)));
    EXPECT_GE(grid_wordings(kind).trained.size(), 8u);
    EXPECT_GE(grid_wordings(kind).heldout.size(), 4u);
  }
  GridTask task;
  for (Surface surface : {Surface::Trained, Surface::Heldout}) {
    Rng rng(seed_mix(8, static_cast<uint64_t>(surface)));
    for (int i = 0; i < 300; ++i) {
      const Example example = task.generate(rng, 1 + i % 5, surface);
      const WordingPool& pool = grid_wordings(example.meta["question"]);
      EXPECT_TRUE(in_pool(surface == Surface::Trained ? pool.trained : pool.heldout, question_of(example)));
      EXPECT_FALSE(in_pool(surface == Surface::Trained ? pool.heldout : pool.trained, question_of(example)));
      const auto& style = example.meta["style"];
      EXPECT_EQ(style["background"] == "sky" && style["antialias"].get<bool>(), surface == Surface::Heldout);
    }
  }
}

TEST(GridTask, AnswersAreMixed) {
  GridTask task;
  for (int difficulty = 1; difficulty <= 5; ++difficulty) {
    Rng rng(seed_mix(3, static_cast<uint64_t>(difficulty)));
    int path_questions = 0, yes = 0, length_questions = 0, none = 0, adjacent = 0;
    std::set<int> lengths;
    const int n = 2000;
    for (int i = 0; i < n; ++i) {
      const Example example = task.generate(rng, difficulty);
      if (example.meta["question"] == "path") {
        ++path_questions;
        yes += example.answer == "yes";
      } else {
        ++length_questions;
        none += example.answer == "none";
      }
      const int distance = example.meta["distance"];
      if (distance >= 0) lengths.insert(distance);
      adjacent += distance == 1;
    }
    EXPECT_NEAR(path_questions, n / 2, n / 20);
    EXPECT_NEAR(yes / static_cast<double>(path_questions), 0.5, 0.05);
    EXPECT_NEAR(none / static_cast<double>(length_questions), 0.25, 0.05);
    EXPECT_LT(adjacent, n / 6) << "mostly trivial neighbours";
    EXPECT_GE(*lengths.rbegin(), difficulty + 6) << "long paths occur";
  }
}

TEST(GridTask, TraceFormat) {
  const std::regex format(R"(d1( r\dc\d)+(\|d\d+( r\dc\d)+)*( goal =(yes|\d+)))"
                           R"(|d1( r\dc\d)*(\|d\d+( r\dc\d)+)*(\|d\d+)? none =(no|none))");
  for_each_problem(200, [&](const GridTask&, const Example& example, int) {
    EXPECT_TRUE(std::regex_match(example.reasoning, format)) << example.reasoning;
  });
}

TEST(GridTask, DeterministicPerSeed) {
  GridTask task;
  for (int difficulty = 1; difficulty <= 5; ++difficulty) {
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

TEST(GridTask, ManyDistinctProblemsPerDifficulty) {
  GridTask task;
  for (int difficulty = 1; difficulty <= 5; ++difficulty) {
    Rng rng(seed_mix(9, static_cast<uint64_t>(difficulty)));
    std::set<std::string> keys;
    const int n = 3000;
    for (int i = 0; i < n; ++i) keys.insert(segments_key(task.generate(rng, difficulty).prompt));
    // R repeats among n draws suggest about n^2 / 2R equally likely problems: <= 100 repeats means >= 45,000.
    // (4x4 mazes repeat most: ~40 repeats in 3000; from 5x5 up there are almost none.)
    EXPECT_GE(keys.size(), static_cast<size_t>(difficulty == 1 ? n - 100 : n - 5)) << difficulty;
  }
}

}  // namespace
}  // namespace muse

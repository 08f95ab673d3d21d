#include "data/tasks/grid.h"

#include <regex>
#include <set>
#include <string>
#include <vector>

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
      EXPECT_EQ(question_of(example), "Is there a path from green to red?");
      answer = goal_distance >= 0 ? "yes" : "no";
    } else {
      EXPECT_EQ(question_of(example), "Shortest path length from green to red?");
      answer = goal_distance >= 0 ? std::to_string(goal_distance) : "none";
    }
    EXPECT_EQ(example.answer, answer);
    EXPECT_EQ(example.reasoning, expected + " =" + answer);
    EXPECT_LE(example.reasoning.size(), kGridTraceBudget);
  });
}

TEST(GridTask, PixelsShowTheMazeOneCellPerPatch) {
  const Color black = color_by_name("black"), white = color_by_name("white");
  const Color green = color_by_name("green"), red = color_by_name("red");
  for_each_problem(100, [&](const GridTask&, const Example& example, int difficulty) {
    const Image& image = image_of(example);
    const std::vector<std::string> maze = maze_of(example);
    const int n = example.meta["size"];
    EXPECT_EQ(n, 3 + difficulty);
    EXPECT_EQ(example.meta["cell"].get<int>(), 8);
    ASSERT_EQ(static_cast<int>(maze.size()), n);
    ASSERT_EQ(image.width, 8 * n);
    ASSERT_EQ(image.height, 8 * n);
    EXPECT_LE(((image.width + 7) / 8) * ((image.height + 7) / 8), 64);
    int starts = 0, goals = 0;
    for (int r = 0; r < n; ++r) {
      ASSERT_EQ(static_cast<int>(maze[r].size()), n);
      for (int c = 0; c < n; ++c) {
        const char kind = maze[r][c];
        starts += kind == 'S';
        goals += kind == 'G';
        const Color expected = kind == '#' ? black : kind == '.' ? white : kind == 'S' ? green : red;
        ASSERT_TRUE(kind == '#' || kind == '.' || kind == 'S' || kind == 'G') << kind;
        for (int y = r * 8; y < r * 8 + 8; ++y)
          for (int x = c * 8; x < c * 8 + 8; ++x) {
            const uint8_t* p = image.pixel(x, y);
            ASSERT_EQ((Color{p[0], p[1], p[2]}), expected) << "cell r" << r << "c" << c;
          }
      }
    }
    EXPECT_EQ(starts, 1);
    EXPECT_EQ(goals, 1);
  });
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

#include "data/tasks/count.h"

#include <map>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <cmath>

#include "data/patches.h"
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
    EXPECT_LE(example.reasoning.size(), 50u);
    EXPECT_TRUE(std::regex_match(example.reasoning, std::regex(R"((r\dc\d )*=\d)"))) << example.reasoning;
  });
}

TEST(CountTask, QuestionNamesTheQueryInAPoolWording) {
  const WordingPool& pool = count_wordings();
  EXPECT_NO_THROW(validate_wordings("count", pool));
  EXPECT_GE(pool.trained.size(), 8u);
  EXPECT_GE(pool.heldout.size(), 4u);
  CountTask task;
  for (Surface surface : {Surface::Trained, Surface::Heldout}) {
    std::set<std::string> templates;
    for (int difficulty = 1; difficulty <= 4; ++difficulty) {
      Rng rng(seed_mix(12, static_cast<uint64_t>(difficulty), static_cast<uint64_t>(surface)));
      for (int i = 0; i < 150; ++i) {
        const Example example = task.generate(rng, difficulty, surface);
        const std::string color = example.meta["color"], shape = example.meta["shape"];
        std::string what;
        if (color != "any") what += color + " ";
        what += (shape != "any" ? shape : "shape") + "s";
        EXPECT_EQ(example.meta["what"], what);
        auto match = [&](const std::vector<std::string>& part) {
          for (const auto& t : part)
            if (fill_wording(t, {{"what", what}}) == question_of(example)) return t;
          return std::string();
        };
        const std::string own = match(surface == Surface::Trained ? pool.trained : pool.heldout);
        EXPECT_FALSE(own.empty()) << question_of(example);
        EXPECT_TRUE(match(surface == Surface::Trained ? pool.heldout : pool.trained).empty()) << question_of(example);
        templates.insert(own);
        if (difficulty < 4) {
          EXPECT_NE(color, "any");
          EXPECT_NE(shape, "any");
        }
      }
    }
    EXPECT_EQ(templates.size(), surface == Surface::Trained ? pool.trained.size() : pool.heldout.size());
  }
}

// Independent first-view geometry: the view size, and the view patch holding a point of the image.
std::pair<int, int> view_patch(const nlohmann::json& meta, double x, double y) {
  const int width = meta["width"], height = meta["height"];
  int vw = 0, vh = 0;
  view_size(width, height, VisionParams{}, &vw, &vh);
  return {static_cast<int>(std::floor(y * vh / height / 8)), static_cast<int>(std::floor(x * vw / width / 8))};
}

TEST(CountTask, ObjectsArePlacedOffTheGridSeparatedOnePerViewPatch) {
  int off_grid = 0, objects = 0, downscaled = 0, scenes = 0;
  std::set<double> radii;
  std::set<std::pair<int, int>> sizes;
  for_each_problem(200, [&](const CountTask&, const Example& example, int difficulty) {
    const Image& image = image_of(example);
    const auto& meta = example.meta;
    EXPECT_EQ(image.width, meta["width"].get<int>());
    EXPECT_EQ(image.height, meta["height"].get<int>());
    int vw = 0, vh = 0;
    view_size(image.width, image.height, VisionParams{}, &vw, &vh);
    EXPECT_EQ(meta["view"], (std::vector<int>{vw, vh}));
    ++scenes;
    sizes.insert({image.width, image.height});
    if (vw < image.width) ++downscaled;
    if (difficulty == 1) EXPECT_GE(static_cast<double>(vw) / image.width, 0.5);
    const double to_view = static_cast<double>(vw) / image.width;
    std::set<std::pair<int, int>> patches;
    const auto& list = meta["objects"];
    for (size_t i = 0; i < list.size(); ++i) {
      const auto& o = list[i];
      const double x = o["x"], y = o["y"], r = o["radius"];
      ++objects;
      radii.insert(r);
      // Not at a fixed offset of an 8-pixel cell (the old layout put every centre at pixel (3, 3) of its cell).
      if (std::fmod(x, 8.0) != 3.0 || std::fmod(y, 8.0) != 3.0) ++off_grid;
      EXPECT_GE(x - r, 0);
      EXPECT_GE(y - r, 0);
      EXPECT_LE(x + r, image.width);
      EXPECT_LE(y + r, image.height);
      // Big enough to be seen in the first view.
      EXPECT_GE(r * to_view, difficulty == 1 ? 3.4 : 2.4);
      const auto patch = view_patch(meta, x, y);
      EXPECT_EQ(patch, std::make_pair(o["row"].get<int>(), o["col"].get<int>()));
      EXPECT_TRUE(patches.insert(patch).second) << "two centres in one view patch";
      for (size_t j = 0; j < i; ++j) {
        const auto& p = list[j];
        const double gap = std::hypot(x - p["x"].get<double>(), y - p["y"].get<double>()) - r - p["radius"].get<double>();
        EXPECT_GE(gap * to_view, 1.0) << "shapes too close in the view";
      }
    }
  });
  EXPECT_GT(off_grid, objects * 9 / 10);
  EXPECT_GT(downscaled, scenes / 2);
  EXPECT_GE(radii.size(), 20u);
  EXPECT_GT(sizes.size(), 100u);
}

TEST(CountTask, PixelsShowTheObjectsInMetaInTheirShades) {
  for_each_problem(100, [](const CountTask&, const Example& example, int) {
    const Image& image = image_of(example);
    const auto& style = example.meta["style"];
    const bool aa = style["antialias"];
    Color background{};
    for (const auto& [name, color] : style_backgrounds())
      if (name == style["background"]) background = color;
    const int spread = style["shade_spread"];
    // Every pixel is background or belongs to (lies within the box of) a shape.
    std::vector<std::vector<int>> owner(image.height, std::vector<int>(image.width, -1));
    int index = 0;
    for (const auto& o : example.meta["objects"]) {
      const double x = o["x"], y = o["y"], r = o["radius"];
      const auto rgb = o["rgb"].get<std::vector<int>>();
      const Color named = color_by_name(o["color"]);
      EXPECT_LE(std::abs(rgb[0] - named.r), spread);
      EXPECT_LE(std::abs(rgb[1] - named.g), spread);
      EXPECT_LE(std::abs(rgb[2] - named.b), spread);
      const Color shade{static_cast<uint8_t>(rgb[0]), static_cast<uint8_t>(rgb[1]), static_cast<uint8_t>(rgb[2])};
      // The centre is fully covered: exactly the shade.
      EXPECT_EQ(pixel_at(image, static_cast<int>(x), static_cast<int>(y + r / 3)), shade);
      for (int yy = static_cast<int>(y - r) - 1; yy <= static_cast<int>(y + r) + 1; ++yy)
        for (int xx = static_cast<int>(x - r) - 1; xx <= static_cast<int>(x + r) + 1; ++xx)
          if (xx >= 0 && yy >= 0 && xx < image.width && yy < image.height) owner[yy][xx] = index;
      // Square corners are filled, circle corners are not (at most partly covered).
      const Color corner = pixel_at(image, static_cast<int>(x - r + 0.5), static_cast<int>(y - r + 0.5));
      if (o["shape"] == "square") EXPECT_NE(corner, background);
      if (o["shape"] != "square")
        EXPECT_NE(pixel_at(image, static_cast<int>(x - r + 0.25), static_cast<int>(y - r + 0.25)), shade);
      ++index;
    }
    int partial = 0;
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x) {
        const Color c = pixel_at(image, x, y);
        if (owner[y][x] < 0) {
          ASSERT_EQ(c, background) << x << "," << y;
          continue;
        }
        const auto rgb = example.meta["objects"][static_cast<size_t>(owner[y][x])]["rgb"].get<std::vector<int>>();
        const Color shade{static_cast<uint8_t>(rgb[0]), static_cast<uint8_t>(rgb[1]), static_cast<uint8_t>(rgb[2])};
        if (c != background && c != shade) ++partial;
      }
    // Anti-aliasing leaves intermediate colours along the edges; aliased drawing never does.
    if (aa)
      EXPECT_GT(partial, 0);
    else
      EXPECT_EQ(partial, 0);
  });
}

TEST(CountTask, TraceNamesTheViewPatchThatShowsEachCountedObject) {
  for_each_problem(100, [](const CountTask&, const Example& example, int) {
    const Image& image = image_of(example);
    const PatchGrid grid = patchify(image, VisionParams{});
    std::smatch m;
    std::string rest = example.reasoning;
    const std::regex cell(R"(r(\d)c(\d) )");
    std::set<std::pair<int, int>> named;
    while (std::regex_search(rest, m, cell)) {
      named.insert({std::stoi(m[1]), std::stoi(m[2])});
      rest = m.suffix();
    }
    EXPECT_EQ(named.size(), example.meta["count"].get<size_t>());
    for (const auto& o : example.meta["objects"]) {
      const auto patch = view_patch(example.meta, o["x"], o["y"]);
      const bool counted = (example.meta["color"] == "any" || o["color"] == example.meta["color"]) &&
                           (example.meta["shape"] == "any" || o["shape"] == example.meta["shape"]);
      EXPECT_EQ(named.count(patch), counted ? 1u : 0u);
      // In the downscaled view the patch holds the object's colour somewhere (it is visible there).
      ASSERT_LT(patch.first, grid.rows);
      ASSERT_LT(patch.second, grid.cols);
      const auto rgb = o["rgb"].get<std::vector<int>>();
      const float* p = grid.patch(patch.first, patch.second);
      double best = 1e9;
      for (int i = 0; i < 64; ++i) {
        double d = 0;
        for (int k = 0; k < 3; ++k) d += std::abs((p[i * 3 + k] + 1) * 127.5 - rgb[k]);
        best = std::min(best, d);
      }
      EXPECT_LT(best, 60) << example.reasoning;
    }
  });
}

TEST(CountTask, HeldoutStyleOnlyOnTheHeldoutSurface) {
  CountTask task;
  std::set<std::string> backgrounds;
  int antialiased = 0;
  for (int difficulty = 1; difficulty <= 4; ++difficulty) {
    Rng rng(seed_mix(31, static_cast<uint64_t>(difficulty)));
    for (int i = 0; i < 300; ++i) {
      const auto trained = task.generate(rng, difficulty, Surface::Trained).meta["style"];
      EXPECT_FALSE(trained["background"] == "sky" && trained["antialias"].get<bool>());
      EXPECT_FALSE(trained["heldout"].get<bool>());
      backgrounds.insert(trained["background"].get<std::string>());
      antialiased += trained["antialias"].get<bool>();
      const auto heldout = task.generate(rng, difficulty, Surface::Heldout).meta["style"];
      EXPECT_EQ(heldout["background"], "sky");
      EXPECT_TRUE(heldout["antialias"].get<bool>());
      EXPECT_TRUE(heldout["heldout"].get<bool>());
    }
  }
  EXPECT_EQ(backgrounds.size(), 5u);
  EXPECT_GT(antialiased, 400);
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

#include "data/tasks/read.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

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

Color pixel_at(const Image& image, int x, int y) {
  const uint8_t* p = image.pixel(x, y);
  return {p[0], p[1], p[2]};
}

template <typename F>
void for_each_problem(int n, F check) {
  ReadTask task;
  for (int difficulty = task.min_difficulty(); difficulty <= task.max_difficulty(); ++difficulty) {
    Rng rng(seed_mix(31, static_cast<uint64_t>(difficulty)));
    for (int i = 0; i < n; ++i) check(task, task.generate(rng, difficulty), difficulty);
  }
}

// The first view's downscale factor, searched independently of patches.cpp: the largest factor whose
// aspect-preserving view has at most 64 patches of 8 x 8.
double view_factor(int width, int height) {
  double best = 0;
  for (int w = 1; w <= width; ++w) {
    const int h = std::max(1, static_cast<int>(std::lround(static_cast<double>(height) * w / width)));
    if (((w + 7) / 8) * ((h + 7) / 8) <= 64) best = static_cast<double>(w) / width;
  }
  return best;
}

TEST(ReadTask, DifficultyRangeIsOneToThree) {
  ReadTask task;
  EXPECT_EQ(task.min_difficulty(), 1);
  EXPECT_EQ(task.max_difficulty(), 3);
  Rng rng(0);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 4), MuseError);
  EXPECT_EQ(make_task("read")->name(), "read");
}

TEST(ReadTask, ReferenceAnswerVerifiesAndWrongOnesDoNot) {
  for_each_problem(100, [](const ReadTask& task, const Example& example, int) {
    const std::string number = example.meta["number"];
    EXPECT_EQ(example.answer, number);
    EXPECT_EQ(task.verify(example, number), 1.0);
    EXPECT_EQ(task.verify(example, "\t" + number + "  "), 1.0);
    std::string wrong = number;
    wrong.back() = wrong.back() == '9' ? '0' : static_cast<char>(wrong.back() + 1);
    EXPECT_EQ(task.verify(example, wrong), 0.0);
    EXPECT_EQ(task.verify(example, "0" + number), 0.0);
    EXPECT_EQ(task.verify(example, number + "0"), 0.0);
    EXPECT_EQ(task.verify(example, number.substr(1)), 0.0);
    EXPECT_EQ(task.verify(example, "1 " + number), 0.0);
  });
}

TEST(ReadTask, VerifyNeverThrows) {
  ReadTask task;
  Rng rng(3);
  const Example example = task.generate(rng, 2);
  for (const std::string answer : {std::string(10000, '7'), std::string("\xff\xfe", 2), std::string(3, '\0'),
                                   std::string("")})
    EXPECT_EQ(task.verify(example, answer), 0.0);
  Example empty;
  EXPECT_NO_THROW(task.verify(empty, "12"));
}

TEST(ReadTask, TraceNamesTheBoxThenTheDigits) {
  const std::regex format(R"(at r(\d+)c(\d+)-r(\d+)c(\d+):((?: \d)+) =(\d+))");
  for_each_problem(200, [&](const ReadTask&, const Example& example, int) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(example.reasoning, m, format)) << example.reasoning;
    const std::vector<int> bbox = example.meta["bbox"];
    const std::vector<int> cells = example.meta["view_cells"];
    EXPECT_EQ((std::vector<int>{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])}), cells);
    // The cells are those of the first view (8-px patches) that the pixel box touches.
    const int width = example.meta["width"], height = example.meta["height"];
    const int vw = static_cast<int>(std::lround(view_factor(width, height) * width));
    const int vh = static_cast<int>(std::lround(view_factor(width, height) * height));
    EXPECT_EQ(example.meta["view"], (std::vector<int>{vw, vh}));
    EXPECT_EQ(cells[0], bbox[1] * vh / height / 8);
    EXPECT_EQ(cells[1], bbox[0] * vw / width / 8);
    EXPECT_EQ(cells[2], (bbox[3] - 1) * vh / height / 8);
    EXPECT_EQ(cells[3], (bbox[2] - 1) * vw / width / 8);
    EXPECT_LE(cells[2], (vh - 1) / 8);
    EXPECT_LE(cells[3], (vw - 1) / 8);
    std::string digits = m[5];
    digits.erase(std::remove(digits.begin(), digits.end(), ' '), digits.end());
    EXPECT_EQ(digits, example.answer);
    EXPECT_EQ(m[6].str(), example.answer);
    EXPECT_LE(example.reasoning.size(), 50u);
  });
}

TEST(ReadTask, DifficultySetsScaleDigitsAndShapes) {
  const int scales[] = {4, 2, 1}, small_scales[] = {6, 3, 1}, min_digits[] = {1, 2, 3}, max_digits[] = {3, 4, 6}, max_shapes[] = {4, 5, 6};
  ReadTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng rng(seed_mix(4, static_cast<uint64_t>(difficulty)));
    std::set<size_t> lengths;
    for (int i = 0; i < 500; ++i) {
      const Example example = task.generate(rng, difficulty);
      const std::string number = example.meta["number"];
      const bool small = example.meta["font"] == "small";
      EXPECT_EQ(example.meta["scale"].get<int>(), small ? small_scales[difficulty - 1] : scales[difficulty - 1]);
      EXPECT_TRUE(number == "0" || number[0] != '0') << number;
      lengths.insert(number.size());
      EXPECT_LE(example.meta["shapes"].size(), static_cast<size_t>(max_shapes[difficulty - 1]));
      EXPECT_GE(example.meta["shapes"].size(), 1u);
    }
    EXPECT_EQ(*lengths.begin(), static_cast<size_t>(min_digits[difficulty - 1]));
    EXPECT_EQ(*lengths.rbegin(), static_cast<size_t>(max_digits[difficulty - 1]));
  }
}

TEST(ReadTask, LegibleInTheFirstViewOnlyAtDifficultyOne) {
  for_each_problem(50, [](const ReadTask&, const Example& example, int difficulty) {
    const Image& image = image_of(example);
    const std::set<std::pair<int, int>> sizes =
        difficulty == 1 ? std::set<std::pair<int, int>>{{192, 128}, {176, 132}, {208, 117}}
                        : std::set<std::pair<int, int>>{{288, 192}, {264, 198}, {304, 171}};
    EXPECT_EQ(sizes.count({image.width, image.height}), 1u) << image.width << "x" << image.height;
    EXPECT_EQ(example.meta["width"].get<int>(), image.width);
    EXPECT_EQ(example.meta["height"].get<int>(), image.height);
    const double factor = view_factor(image.width, image.height);
    EXPECT_LT(factor, 0.45);  // always downscaled
    const std::vector<int> bbox = example.meta["bbox"];
    const int scale = example.meta["scale"];
    const Font font = example.meta["font"] == "small" ? Font::Small : example.meta["font"] == "bold" ? Font::Bold : Font::Classic;
    const double glyph_height_in_view = Canvas::text_height(scale, font) * factor;
    const double stroke_in_view = scale * factor;
    if (difficulty == 1) {
      EXPECT_GE(glyph_height_in_view, 10.0);
      EXPECT_GE(stroke_in_view, 1.4);
    } else {
      EXPECT_LE(glyph_height_in_view, 4.1);
      EXPECT_LE(stroke_in_view, 0.82);
    }
    // A full-resolution crop of the box fits one view without downscaling, so zooming makes it legible.
    const int w = bbox[2] - bbox[0], h = bbox[3] - bbox[1];
    EXPECT_LE(((w + 7) / 8) * ((h + 7) / 8), 64);
  });
}

Color rgb_of(const nlohmann::json& j) {
  return {static_cast<uint8_t>(j[0].get<int>()), static_cast<uint8_t>(j[1].get<int>()),
          static_cast<uint8_t>(j[2].get<int>())};
}

TEST(ReadTask, PixelsShowTheNumberInItsBoxAndTheShapes) {
  for_each_problem(100, [](const ReadTask&, const Example& example, int) {
    const Image& image = image_of(example);
    const std::vector<int> bbox = example.meta["bbox"];
    const std::string number = example.meta["number"];
    const int scale = example.meta["scale"];
    const Font font = example.meta["font"] == "small" ? Font::Small : example.meta["font"] == "bold" ? Font::Bold : Font::Classic;
    const Color ink = rgb_of(example.meta["rgb"]);
    const Color named = color_by_name(example.meta["color"]);
    EXPECT_LE(std::abs(ink.r - named.r) + std::abs(ink.g - named.g) + std::abs(ink.b - named.b), 60);
    Color background{};
    for (const auto& [name, color] : style_backgrounds())
      if (name == example.meta["style"]["background"]) background = color;
    EXPECT_EQ(bbox[2] - bbox[0], Canvas::text_width(number, scale, font));
    EXPECT_EQ(bbox[3] - bbox[1], Canvas::text_height(scale, font));
    EXPECT_GE(bbox[0], 4);
    EXPECT_GE(bbox[1], 4);
    EXPECT_LE(bbox[2], image.width - 4);
    EXPECT_LE(bbox[3], image.height - 4);

    // The box and a 3-pixel ring around it hold exactly the text: rendered alone it gives the same pixels.
    Canvas alone(image.width, image.height, background);
    alone.draw_text(bbox[0], bbox[1], number, ink, scale, font);
    int text_ink = 0;
    for (int y = bbox[1] - 3; y < bbox[3] + 3; ++y)
      for (int x = bbox[0] - 3; x < bbox[2] + 3; ++x) {
        const uint8_t* p = alone.image().pixel(x, y);
        const Color expected{p[0], p[1], p[2]};
        ASSERT_EQ(pixel_at(image, x, y), expected) << x << "," << y;
        text_ink += expected == ink;
      }
    EXPECT_GT(text_ink, 0);

    // Every shape is where meta says, in its shade; nothing else is drawn outside the text box.
    std::vector<std::vector<bool>> covered(image.height, std::vector<bool>(image.width, false));
    for (int y = bbox[1]; y < bbox[3]; ++y)
      for (int x = bbox[0]; x < bbox[2]; ++x) covered[y][x] = true;
    for (const auto& shape : example.meta["shapes"]) {
      const int x = shape["x"], y = shape["y"], r = shape["radius"];
      EXPECT_EQ(pixel_at(image, x, y), rgb_of(shape["rgb"]));
      ASSERT_GE(x - r, 0);
      ASSERT_GE(y - r, 0);
      ASSERT_LT(x + r, image.width);
      ASSERT_LT(y + r, image.height);
      for (int yy = y - r; yy <= y + r; ++yy)
        for (int xx = x - r; xx <= x + r; ++xx) covered[yy][xx] = true;
    }
    for (int y = 0; y < image.height; ++y)
      for (int x = 0; x < image.width; ++x)
        if (!covered[y][x]) ASSERT_EQ(pixel_at(image, x, y), background) << x << "," << y;
  });
}

TEST(ReadTask, WordingsAndHeldoutStyleFollowTheSurface) {
  const WordingPool& pool = read_wordings();
  EXPECT_NO_THROW(validate_wordings("read", pool));
  EXPECT_GE(pool.trained.size(), 8u);
  EXPECT_GE(pool.heldout.size(), 4u);
  ReadTask task;
  std::set<std::string> fonts;
  for (Surface surface : {Surface::Trained, Surface::Heldout}) {
    Rng rng(seed_mix(6, static_cast<uint64_t>(surface)));
    for (int i = 0; i < 300; ++i) {
      const Example example = task.generate(rng, 1 + i % 3, surface);
      const std::string q = undecorated(example.prompt.at(1).text);
      const auto& own = surface == Surface::Trained ? pool.trained : pool.heldout;
      const auto& other = surface == Surface::Trained ? pool.heldout : pool.trained;
      EXPECT_NE(std::find(own.begin(), own.end(), q), own.end()) << q;
      EXPECT_EQ(std::find(other.begin(), other.end(), q), other.end()) << q;
      const auto& style = example.meta["style"];
      EXPECT_EQ(style["background"] == "sky" && style["antialias"].get<bool>(), surface == Surface::Heldout);
      if (surface == Surface::Heldout) EXPECT_EQ(example.meta["font"], "small");
      if (surface == Surface::Trained) fonts.insert(example.meta["font"].get<std::string>());
    }
  }
  EXPECT_EQ(fonts.size(), 3u);
}

TEST(ReadTask, DeterministicPerSeed) {
  ReadTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng a(42), b(42);
    for (int i = 0; i < 20; ++i) {
      const Example x = task.generate(a, difficulty), y = task.generate(b, difficulty);
      EXPECT_EQ(image_of(x).rgb, image_of(y).rgb);
      EXPECT_EQ(x.reasoning, y.reasoning);
      EXPECT_EQ(x.meta, y.meta);
    }
  }
}

TEST(ReadTask, ManyDistinctProblemsPerDifficulty) {
  ReadTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng rng(seed_mix(9, static_cast<uint64_t>(difficulty)));
    std::set<std::string> keys;
    const int n = 2000;
    for (int i = 0; i < n; ++i) keys.insert(segments_key(task.generate(rng, difficulty).prompt));
    EXPECT_EQ(keys.size(), static_cast<size_t>(n)) << difficulty;
  }
}

}  // namespace
}  // namespace muse

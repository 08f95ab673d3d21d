#include "data/tasks/chart.h"

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "data/patches.h"
#include "util/error.h"

namespace muse {
namespace {

const Color kWhite{255, 255, 255};
const Color kBlack{0, 0, 0};
const Color kGrid{220, 220, 220};

Color at(const Image& image, int x, int y) {
  const uint8_t* p = image.pixel(x, y);
  return {p[0], p[1], p[2]};
}

const Image& image_of(const Example& example) {
  for (const auto& segment : example.prompt)
    if (segment.kind == SegmentKind::Image) return *segment.image;
  throw std::runtime_error("no image segment");
}

std::vector<Example> examples(int difficulty, int count, uint64_t seed = 7) {
  ChartTask task;
  Rng rng(seed_mix(seed, difficulty));
  std::vector<Example> out;
  for (int i = 0; i < count; ++i) out.push_back(task.generate(rng, difficulty));
  return out;
}

// The trace and answer worked out here, independently of the task's code.
std::pair<std::string, std::string> recompute(const Example& example) {
  const auto values = example.meta["values"].get<std::vector<int>>();
  const auto question = example.meta["question"].get<std::string>();
  auto letter = [](size_t i) { return std::string(1, static_cast<char>('A' + i)); };
  auto value_of = [&](const std::string& label) { return values.at(static_cast<size_t>(label.at(0) - 'A')); };
  if (question == "largest") {
    std::string trace;
    size_t best = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      trace += (i ? " " : "") + letter(i) + std::to_string(values[i]);
      if (values[i] > values[best]) best = i;
    }
    return {trace + "|max " + letter(best) + std::to_string(values[best]), letter(best)};
  }
  const std::string a = example.meta["a"];
  if (question == "value") return {a + std::to_string(value_of(a)), std::to_string(value_of(a))};
  const std::string b = example.meta["b"];
  const int x = value_of(a), y = value_of(b);
  return {a + std::to_string(x) + " " + b + std::to_string(y) + "|" + std::to_string(x) + "-" + std::to_string(y) +
              "=" + std::to_string(x - y),
          std::to_string(x - y)};
}

TEST(ChartTask, ReferenceAnswersVerifyAndWrongOnesDoNot) {
  ChartTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    for (const Example& example : examples(difficulty, 300)) {
      ASSERT_EQ(task.verify(example, example.answer), 1.0) << example.reasoning;
      EXPECT_EQ(task.verify(example, "  " + example.answer + "\n"), 1.0);
      std::string lowered = example.answer;
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_EQ(task.verify(example, lowered), 1.0);
      if (example.meta["question"] == "largest") {
        const std::string other = example.answer == "A" ? "B" : "A";
        EXPECT_EQ(task.verify(example, other), 0.0);
        EXPECT_EQ(task.verify(example, example.answer + example.answer), 0.0);
      } else {
        const int value = std::stoi(example.answer);
        EXPECT_EQ(task.verify(example, std::to_string(value + 1)), 0.0);
        EXPECT_EQ(task.verify(example, std::to_string(-value == value ? 1 : -value)), 0.0);
        EXPECT_EQ(task.verify(example, example.answer + "0"), 0.0);
      }
      for (const std::string& junk : std::vector<std::string>{"", " ", "?", "\xff\xfe", "max", std::string(10000, '9'), std::string("1\0", 2)})
        EXPECT_EQ(task.verify(example, junk), 0.0);
    }
  }
}

TEST(ChartTask, VerifyNeverThrowsOnMalformedMeta) {
  ChartTask task;
  Example example;
  EXPECT_EQ(task.verify(example, "A"), 0.0);
  example.meta = {{"labels", {"A", "B"}}, {"values", {1}}, {"question", "largest"}};
  EXPECT_EQ(task.verify(example, "A"), 0.0);
  example.meta = {{"labels", {"A", "B"}}, {"values", {1, 2}}, {"question", "value"}, {"a", "Z"}};
  EXPECT_EQ(task.verify(example, "1"), 0.0);
  example.meta = {{"labels", 3}, {"values", "x"}, {"question", 5}};
  EXPECT_EQ(task.verify(example, "1"), 0.0);
  // A hand-built problem verifies from its meta alone.
  example.meta = {{"labels", {"A", "B", "C"}}, {"values", {3, 9, 4}}, {"question", "difference"}, {"a", "C"}, {"b", "B"}};
  EXPECT_EQ(task.verify(example, "-5"), 1.0);
}

TEST(ChartTask, TraceMatchesAnIndependentRecomputation) {
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    for (const Example& example : examples(difficulty, 300)) {
      const auto [trace, answer] = recompute(example);
      EXPECT_EQ(example.reasoning, trace);
      EXPECT_EQ(example.answer, answer);
      EXPECT_LE(example.reasoning.size(), 160u);
      // The question names the letters the trace reads.
      const std::string question = segments_text(example.prompt);
      if (example.meta.contains("a")) EXPECT_NE(question.find(example.meta["a"].get<std::string>()), std::string::npos);
      if (example.meta.contains("b")) EXPECT_NE(question.find(example.meta["b"].get<std::string>()), std::string::npos);
    }
  }
}

TEST(ChartTask, DifficultyControlsBarsQuestionsAndStyle) {
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    std::set<std::string> questions, styles;
    std::set<size_t> counts;
    for (const Example& example : examples(difficulty, 500)) {
      const auto values = example.meta["values"].get<std::vector<int>>();
      counts.insert(values.size());
      questions.insert(example.meta["question"].get<std::string>());
      styles.insert(example.meta["chart"].get<std::string>());
      for (int v : values) {
        EXPECT_GE(v, 1);
        EXPECT_LE(v, 12);
      }
      EXPECT_EQ(std::count(values.begin(), values.end(), *std::max_element(values.begin(), values.end())), 1);
      ASSERT_EQ(example.prompt.size(), 2u);
      EXPECT_EQ(example.prompt[0].kind, SegmentKind::Image);
      EXPECT_EQ(example.prompt[1].kind, SegmentKind::Text);
    }
    const std::set<size_t> expected_counts = difficulty == 1 ? std::set<size_t>{3, 4}
                                            : difficulty == 2 ? std::set<size_t>{5, 6}
                                                              : std::set<size_t>{5, 6, 7};
    EXPECT_EQ(counts, expected_counts) << difficulty;
    EXPECT_EQ(questions, (difficulty == 1 ? std::set<std::string>{"largest", "value"}
                                          : std::set<std::string>{"largest", "value", "difference"}));
    EXPECT_EQ(styles, (difficulty == 3 ? std::set<std::string>{"bar", "line"} : std::set<std::string>{"bar"}));
  }
}

// The fixed layout of render_chart(values, style, colors) (used by "mixed"): unchanged.
TEST(ChartTask, FixedLayoutPixelsMatchTheValues) {
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    for (const Example& example : examples(difficulty, 200)) {
      const auto values = example.meta["values"].get<std::vector<int>>();
      const auto colors = example.meta["colors"].get<std::vector<std::string>>();
      const bool bar = example.meta["chart"] == "bar";
      std::vector<Color> rgb;
      for (const auto& name : colors) rgb.push_back(color_by_name(name));
      const Image image = render_chart(values, bar ? ChartStyle::Bar : ChartStyle::Line, rgb);
      const int n = static_cast<int>(values.size());
      ASSERT_EQ(image.width, 8 * n);
      ASSERT_EQ(image.height, 64);
      // Fits one view without downscaling.
      EXPECT_LE(((image.width + 7) / 8) * ((image.height + 7) / 8), 64);
      for (int x = 0; x < image.width; ++x) EXPECT_EQ(at(image, x, 56), kBlack);  // the axis
      for (int c = 0; c < n; ++c) {
        const int top = 56 - 4 * values[static_cast<size_t>(c)];
        if (bar) {
          const Color color = color_by_name(colors[static_cast<size_t>(c)]);
          for (int x = 8 * c; x < 8 * c + 8; ++x) {
            for (int y = 0; y < 56; ++y) {
              const bool inside = x >= 8 * c + 1 && x < 8 * c + 7 && y >= top;
              if (inside) {
                ASSERT_EQ(at(image, x, y), color) << "bar " << c << " at " << x << "," << y;
              } else {
                const Color background = y % 4 == 0 && y >= 8 ? kGrid : kWhite;
                ASSERT_EQ(at(image, x, y), background) << "bar " << c << " at " << x << "," << y;
              }
            }
          }
        } else {
          // The marker: black 4x4 block whose top row is the value's height, nothing black above it.
          for (int x = 8 * c + 2; x < 8 * c + 6; ++x) {
            int first_black = -1;
            for (int y = 0; y < 56 && first_black < 0; ++y)
              if (at(image, x, y) == kBlack) first_black = y;
            EXPECT_EQ(first_black, top) << "point " << c;
            for (int y = top; y < top + 4; ++y) EXPECT_EQ(at(image, x, y), kBlack);
          }
        }
      }
      if (!bar && n > 1) {
        // The line's colour joins the points: it appears between each pair of neighbouring markers.
        const Color line = color_by_name(colors.at(0));
        for (int c = 0; c + 1 < n; ++c) {
          bool seen = false;
          for (int x = 8 * c + 6; x < 8 * c + 10; ++x)
            for (int y = 0; y < 56; ++y) seen = seen || at(image, x, y) == line;
          EXPECT_TRUE(seen) << "segment " << c;
        }
      }
      // Labels A, B, ... in the bottom patch row, exactly the font's glyphs.
      for (int c = 0; c < n; ++c) {
        Canvas glyph(8, 8);
        glyph.draw_text(2, 1, std::string(1, static_cast<char>('A' + c)), kBlack);
        for (int x = 0; x < 8; ++x)
          for (int y = 1; y < 8; ++y) ASSERT_EQ(at(image, 8 * c + x, 56 + y), at(glyph.image(), x, y)) << c;
      }
    }
  }
}

// Styled charts: every bar spans exactly value * unit pixels above the baseline (summed coverage when
// anti-aliased), in its shaded colour, centred in its slot; a line chart's markers sit at the values.
TEST(ChartTask, StyledBarsMeasureTheirValueInPixels) {
  int antialiased = 0, downscaled = 0, measured = 0;
  std::set<int> widths, heights;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    for (const Example& example : examples(difficulty, 300)) {
      const Image& image = image_of(example);
      const auto values = example.meta["values"].get<std::vector<int>>();
      const auto& look = example.meta["look"];
      const int n = static_cast<int>(values.size());
      const int slot = look["slot"], bar_width = look["bar_width"], left = look["left"], base = look["baseline"];
      const double unit = look["unit"];
      const int samples = look["samples"];
      const auto bg = look["background"].get<std::vector<int>>();
      EXPECT_EQ(image.width, left + slot * n + look["right"].get<int>());
      widths.insert(image.width);
      heights.insert(image.height);
      antialiased += samples > 1;
      downscaled += ((image.width + 7) / 8) * ((image.height + 7) / 8) > 64;
      if (example.meta["chart"] != "bar") continue;
      for (int c = 0; c < n; ++c) {
        const auto rgb = example.meta["rgb"][static_cast<size_t>(c)].get<std::vector<int>>();
        const int x = left + slot * c + slot / 2;  // the bar's middle column
        // Coverage of the bar colour down the column from the baseline up to the top margin, measured on the
        // channel where bar and background differ most.
        int k = 0;
        for (int j = 1; j < 3; ++j)
          if (std::abs(rgb[j] - bg[j]) > std::abs(rgb[k] - bg[k])) k = j;
        double covered = 0;
        // (Gridlines would mix into the top pixel's blend: measured on charts without them.)
        for (int y = base - 1; y >= 0 && !look["gridlines"].get<bool>(); --y) {
          const double alpha = (image.pixel(x, y)[k] - bg[k]) / static_cast<double>(rgb[k] - bg[k]);
          if (alpha < 0.02) break;  // above the bar (value labels sit 2 px higher)
          covered += std::min(1.0, alpha);
        }
        const double expected = unit * values[static_cast<size_t>(c)];
        // Gridlines under the bar are covered by it; aliased bars round their top to the nearest pixel centre.
        if (!look["gridlines"].get<bool>()) {
          EXPECT_NEAR(covered, expected, samples > 1 ? 0.1 : 0.51) << "bar " << c << " of " << example.reasoning << " " << look.dump();
          ++measured;
        }
        // The bar is bar_width pixels wide at its middle row.
        const int y = base - static_cast<int>(expected / 2) - 1;
        int wide = 0;
        for (int xx = left + slot * c; xx < left + slot * (c + 1); ++xx)
          wide += image.pixel(xx, y)[k] == rgb[k];
        EXPECT_NEAR(wide, bar_width, samples > 1 ? 1 : 0) << "bar " << c;
      }
    }
  }
  EXPECT_GT(measured, 200);
  EXPECT_GT(antialiased, 200);
  EXPECT_GT(downscaled, 300);  // most charts are read after the first view's downscale
  EXPECT_GT(widths.size(), 20u);
  EXPECT_GT(heights.size(), 10u);
}

TEST(ChartTask, ValuesStayReadableAfterTheFirstView) {
  const double min_view_unit[] = {3.0, 2.5, 2.0};
  for (int difficulty = 1; difficulty <= 3; ++difficulty)
    for (const Example& example : examples(difficulty, 300)) {
      const Image& image = image_of(example);
      const auto& look = example.meta["look"];
      int vw = 0, vh = 0;
      view_size(image.width, image.height, VisionParams{}, &vw, &vh);
      EXPECT_GE(look["unit"].get<double>() * vw / image.width, min_view_unit[difficulty - 1] - 1e-9);
      EXPECT_TRUE(look["gridlines"].get<bool>() || look["ticks"].get<bool>() || look["value_labels"].get<bool>());
    }
}

TEST(ChartTask, WordingPoolsValidateAndHeldoutDrawsOnlyHeldoutWordings) {
  for (const std::string kind : {"largest", "value", "difference"}) {
    const WordingPool& pool = chart_wordings(kind);
    EXPECT_NO_THROW(validate_wordings(kind, pool));
    EXPECT_GE(pool.trained.size(), 8u);
    EXPECT_GE(pool.heldout.size(), 4u);
  }
  EXPECT_THROW(chart_wordings("median"), MuseError);
  ChartTask task;
  for (Surface surface : {Surface::Trained, Surface::Heldout}) {
    std::set<std::string> seen;
    Rng rng(seed_mix(3, static_cast<uint64_t>(surface)));
    for (int i = 0; i < 600; ++i) {
      const Example example = task.generate(rng, 1 + i % 3, surface);
      const std::string kind = example.meta["question"];
      const WordingPool& pool = chart_wordings(kind);
      const std::string item = example.meta["chart"] == "bar" ? "bar" : "point";
      const WordingSlots slots = {{"item", item}, {"a", example.meta.value("a", "")}, {"b", example.meta.value("b", "")}};
      auto in = [&](const std::vector<std::string>& part) {
        for (const auto& t : part)
          if (fill_wording(t, slots) == undecorated(example.prompt.at(1).text)) return true;
        return false;
      };
      EXPECT_TRUE(in(surface == Surface::Trained ? pool.trained : pool.heldout)) << example.prompt.at(1).text;
      EXPECT_FALSE(in(surface == Surface::Trained ? pool.heldout : pool.trained)) << example.prompt.at(1).text;
      seen.insert(example.prompt.at(1).text);
      // The held-out style: sky + anti-aliasing + the small font, exactly when the surface is held out.
      const auto& style = example.meta["style"];
      const bool heldout_style = style["background"] == "sky" && style["antialias"].get<bool>();
      EXPECT_EQ(heldout_style, surface == Surface::Heldout);
      EXPECT_EQ(style["heldout"].get<bool>(), surface == Surface::Heldout);
      if (surface == Surface::Heldout) EXPECT_EQ(example.meta["look"]["font"], "small");
    }
    EXPECT_GT(seen.size(), 40u);
  }
}

TEST(ChartTask, StyleSpaceIsExplored) {
  std::set<std::string> backgrounds, fonts;
  int axes_off = 0, grid_off = 0, ticks = 0, labels = 0, aa = 0;
  for (int difficulty = 1; difficulty <= 3; ++difficulty)
    for (const Example& example : examples(difficulty, 400, 21)) {
      const auto& look = example.meta["look"];
      backgrounds.insert(example.meta["style"]["background"].get<std::string>());
      fonts.insert(look["font"].get<std::string>());
      axes_off += !look["axes"].get<bool>();
      grid_off += !look["gridlines"].get<bool>();
      ticks += look["ticks"].get<bool>();
      labels += look["value_labels"].get<bool>();
      aa += look["samples"].get<int>() > 1;
      if (difficulty == 1) EXPECT_TRUE(look["gridlines"].get<bool>());
    }
  EXPECT_EQ(backgrounds.size(), 5u);
  EXPECT_EQ(fonts, (std::set<std::string>{"classic", "bold", "small"}));
  EXPECT_GT(axes_off, 60);
  EXPECT_GT(grid_off, 100);
  EXPECT_GT(ticks, 400);
  EXPECT_GT(labels, 200);
  EXPECT_GT(aa, 400);
}

TEST(ChartTask, RenderChartRejectsBadInput) {
  EXPECT_THROW(render_chart({}, ChartStyle::Bar, {}), MuseError);
  EXPECT_THROW(render_chart({1, 2, 3, 4, 5, 6, 7, 8}, ChartStyle::Line, {kBlack}), MuseError);
  EXPECT_THROW(render_chart({13}, ChartStyle::Bar, {kBlack}), MuseError);
  EXPECT_THROW(render_chart({-1}, ChartStyle::Bar, {kBlack}), MuseError);
  EXPECT_THROW(render_chart({1, 2}, ChartStyle::Bar, {kBlack}), MuseError);
  EXPECT_NO_THROW(render_chart({0, 12}, ChartStyle::Line, {kBlack}));
}

TEST(ChartTask, DeterministicPerSeedAndVaried) {
  ChartTask task;
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    Rng a(99), b(99);
    for (int i = 0; i < 50; ++i) {
      const Example x = task.generate(a, difficulty), y = task.generate(b, difficulty);
      EXPECT_EQ(segments_key(x.prompt), segments_key(y.prompt));
      EXPECT_EQ(image_of(x).rgb, image_of(y).rgb);
      EXPECT_EQ(x.reasoning, y.reasoning);
      EXPECT_EQ(x.answer, y.answer);
      EXPECT_EQ(x.meta, y.meta);
    }
    // Far more than 10,000 distinct problems: 3,000 draws almost never repeat.
    std::set<std::string> keys;
    for (const Example& example : examples(difficulty, 3000, 11)) keys.insert(segments_key(example.prompt));
    EXPECT_GE(keys.size(), 2950u) << difficulty;
  }
}

TEST(ChartTask, BothSplitsAreReachable) {
  ChartTask task;
  Rng rng(5);
  for (int difficulty = 1; difficulty <= 3; ++difficulty) {
    const Example train = task.sample(rng, difficulty, Split::Train);
    const Example heldout = task.sample(rng, difficulty, Split::Heldout);
    EXPECT_EQ(split_of(train), Split::Train);
    EXPECT_EQ(split_of(heldout), Split::Heldout);
  }
}

TEST(ChartTask, DifficultyOutOfRangeThrows) {
  ChartTask task;
  Rng rng(1);
  EXPECT_THROW(task.generate(rng, 0), MuseError);
  EXPECT_THROW(task.generate(rng, 4), MuseError);
  EXPECT_FALSE(task.description().empty());
}

}  // namespace
}  // namespace muse

// The second font, the anti-aliased primitives and the shared style space; plus a disabled preview that
// writes sample renders of every image task (run with --gtest_also_run_disabled_tests, MUSE_PREVIEW_DIR=dir).
#include "data/render/style.h"

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/image.h"
#include "data/render/canvas.h"
#include "data/render/font3x5.h"
#include "data/render/font5x7.h"
#include "data/task.h"
#include "util/error.h"

namespace muse {
namespace {

const Color kWhite{255, 255, 255};
const Color kInk{10, 20, 30};

Color at(const Canvas& canvas, int x, int y) {
  const uint8_t* p = canvas.image().pixel(x, y);
  return {p[0], p[1], p[2]};
}

TEST(FontSmall, EveryClaimedGlyphIsWellFormedDrawnAndDistinct) {
  const std::string& charset = font3x5_charset();
  EXPECT_GE(charset.size(), 36u + 1);
  for (char c = '0'; c <= '9'; ++c) EXPECT_NE(charset.find(c), std::string::npos) << c;
  for (char c = 'A'; c <= 'Z'; ++c) EXPECT_NE(charset.find(c), std::string::npos) << c;
  std::set<std::string> bitmaps;
  for (char c : charset) {
    const char* const* rows = font3x5_glyph(c);
    ASSERT_NE(rows, nullptr) << c;
    std::string bitmap;
    for (int y = 0; y < kSmallGlyphHeight; ++y) {
      ASSERT_EQ(std::string(rows[y]).size(), static_cast<size_t>(kSmallGlyphWidth)) << c;
      bitmap += rows[y];
    }
    EXPECT_TRUE(bitmaps.insert(bitmap).second) << "duplicate glyph " << c;
    // Drawn through the canvas: exactly the bitmap's ink, scaled.
    Canvas canvas(12, 12);
    canvas.draw_text(1, 1, std::string(1, c), kInk, 2, Font::Small);
    int ink = 0, expected = 0;
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x) ink += at(canvas, x, y) == kInk;
    for (char p : bitmap) expected += (p == '#') * 4;
    EXPECT_EQ(ink, expected) << c;
    if (c != ' ') EXPECT_GT(ink, 0) << c;
  }
  EXPECT_EQ(font3x5_glyph('a'), font3x5_glyph('A'));
  EXPECT_EQ(font3x5_glyph('%'), nullptr);
  Canvas canvas(8, 8);
  EXPECT_THROW(canvas.draw_text(0, 0, "5%", kInk, 1, Font::Small), MuseError);
}

TEST(FontSmall, MetricsAndBoldIsWiderThanClassic) {
  EXPECT_EQ(Canvas::text_width("123", 1, Font::Small), 11);
  EXPECT_EQ(Canvas::text_height(2, Font::Small), 10);
  EXPECT_EQ(Canvas::text_width("123", 1, Font::Bold), 20);
  EXPECT_EQ(Canvas::text_width("123", 1, Font::Classic), Canvas::text_width("123"));
  for (char c : font5x7_charset()) {
    if (c == ' ') continue;
    Canvas classic(10, 10), bold(10, 10);
    classic.draw_text(1, 1, std::string(1, c), kInk, 1, Font::Classic);
    bold.draw_text(1, 1, std::string(1, c), kInk, 1, Font::Bold);
    int a = 0, b = 0;
    for (int y = 0; y < 10; ++y)
      for (int x = 0; x < 10; ++x) {
        a += at(classic, x, y) == kInk;
        b += at(bold, x, y) == kInk;
        if (at(classic, x, y) == kInk) EXPECT_EQ(at(bold, x, y), kInk) << c;  // bold covers classic
      }
    EXPECT_GT(b, a) << c;
  }
}

TEST(CanvasAntialias, SupersampledShapesHaveIntermediateColoursAliasedOnesDoNot) {
  for (Shape shape : {Shape::Square, Shape::Circle, Shape::Triangle}) {
    Canvas smooth(20, 20), hard(20, 20);
    smooth.fill_shape_f(shape, 9.3, 10.6, 5.4, kInk, 4);
    hard.fill_shape_f(shape, 9.3, 10.6, 5.4, kInk, 1);
    int partial_smooth = 0, partial_hard = 0, full = 0;
    for (int y = 0; y < 20; ++y)
      for (int x = 0; x < 20; ++x) {
        partial_smooth += at(smooth, x, y) != kInk && at(smooth, x, y) != kWhite;
        partial_hard += at(hard, x, y) != kInk && at(hard, x, y) != kWhite;
        full += at(smooth, x, y) == kInk;
      }
    EXPECT_GT(partial_smooth, 4) << shape_name(shape);
    EXPECT_EQ(partial_hard, 0) << shape_name(shape);
    EXPECT_GT(full, 10) << shape_name(shape);
    EXPECT_EQ(at(smooth, 9, 10), kInk);
  }
}

TEST(CanvasAntialias, CoverageSumsToTheArea) {
  // A bar of fractional height: the summed coverage down one column is its height.
  Canvas canvas(4, 20);
  canvas.fill_rect_f(0, 3.25, 4, 17, Color{0, 0, 0}, 4);
  double covered = 0;
  for (int y = 0; y < 20; ++y) covered += (255 - at(canvas, 1, y).r) / 255.0;
  EXPECT_NEAR(covered, 13.75, 0.01);
  Canvas line(20, 20);
  line.draw_line_f(2, 2, 17, 17, 2.0, kInk, 4);
  EXPECT_EQ(at(line, 10, 10), kInk);
  EXPECT_EQ(at(line, 17, 2), kWhite);
  EXPECT_THROW(line.fill_rect_f(0, 0, 1, 1, kInk, 0), MuseError);
}

TEST(RenderStyle, HeldoutCombinationOnlyOnTheHeldoutSurface) {
  Rng rng(3);
  std::set<std::string> backgrounds;
  std::set<int> fonts;
  int sky_plain = 0, aa_other = 0;
  for (int i = 0; i < 3000; ++i) {
    const RenderStyle style = sample_style(rng, Surface::Trained);
    EXPECT_FALSE(is_heldout_style(style));
    EXPECT_FALSE(style.background == kHeldoutBackground && style.antialias);
    backgrounds.insert(style.background_name());
    fonts.insert(static_cast<int>(style.font));
    sky_plain += style.background == kHeldoutBackground;
    aa_other += style.antialias;
    const RenderStyle held = sample_style(rng, Surface::Heldout);
    EXPECT_TRUE(is_heldout_style(held));
    EXPECT_EQ(held.font, Font::Small);
    EXPECT_EQ(held.to_json()["heldout"], true);
  }
  EXPECT_EQ(backgrounds.size(), style_backgrounds().size());  // every background is trained (sky unaliased)
  EXPECT_EQ(fonts.size(), 3u);
  EXPECT_GT(sky_plain, 200);
  EXPECT_GT(aa_other, 1000);
  EXPECT_EQ(style_backgrounds().at(kHeldoutBackground).first, "sky");
}

TEST(RenderStyle, ShadeStaysWithinSpread) {
  Rng rng(1);
  const Color red{220, 20, 20};
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) {
    const Color c = shade(rng, red, 16);
    EXPECT_LE(std::abs(c.r - 220), 16);
    EXPECT_LE(std::abs(c.g - 20), 16);
    EXPECT_LE(std::abs(c.b - 20), 16);
    seen.insert(c.r);
  }
  EXPECT_GT(seen.size(), 20u);
}

// Writes a few renders of every image task per difficulty and surface (for a person to look at).
TEST(RenderPreview, DISABLED_WritePngs) {
  const char* dir = std::getenv("MUSE_PREVIEW_DIR");
  ASSERT_NE(dir, nullptr);
  for (const std::string name : {"count", "chart", "read", "grid"}) {
    const auto task = make_task(name);
    for (int difficulty = task->min_difficulty(); difficulty <= task->max_difficulty(); ++difficulty)
      for (Surface surface : {Surface::Trained, Surface::Heldout}) {
        Rng rng(seed_mix(77, difficulty));
        for (int i = 0; i < 3; ++i) {
          const Example example = task->generate(rng, difficulty, surface);
          const std::string stem = std::string(dir) + "/" + name + "_d" + std::to_string(difficulty) + "_" +
                                   surface_name(surface) + "_" + std::to_string(i);
          const Image& image = *example.prompt.at(0).image;
          Image big = make_image(image.width * 4, image.height * 4);  // nearest-neighbour x4, for viewing
          for (int y = 0; y < big.height; ++y)
            for (int x = 0; x < big.width; ++x)
              for (int k = 0; k < 3; ++k) big.pixel(x, y)[k] = image.pixel(x / 4, y / 4)[k];
          save_png(big, stem + ".png");
          std::printf("%s: %s | %s | %s\n", stem.c_str(), segments_text(example.prompt).c_str(),
                      example.reasoning.c_str(), example.answer.c_str());
        }
      }
  }
}

}  // namespace
}  // namespace muse

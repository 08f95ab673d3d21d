#include "data/render/canvas.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "data/render/font5x7.h"
#include "util/error.h"

namespace muse {
namespace {

const Color kInk{10, 20, 30};
const Color kWhite{255, 255, 255};

Color at(const Canvas& canvas, int x, int y) {
  const uint8_t* p = canvas.image().pixel(x, y);
  return {p[0], p[1], p[2]};
}

// The canvas as text: '#' where the pixel is kInk, '.' where it is white, '?' otherwise.
std::vector<std::string> art(const Canvas& canvas) {
  std::vector<std::string> rows;
  for (int y = 0; y < canvas.height(); ++y) {
    std::string row;
    for (int x = 0; x < canvas.width(); ++x) {
      const Color c = at(canvas, x, y);
      row += c == kInk ? '#' : c == kWhite ? '.' : '?';
    }
    rows.push_back(row);
  }
  return rows;
}

int ink_count(const Canvas& canvas) {
  int n = 0;
  for (const auto& row : art(canvas))
    for (char c : row) n += c == '#';
  return n;
}

TEST(Canvas, StartsFilledWithTheBackground) {
  Canvas canvas(3, 2, {1, 2, 3});
  EXPECT_EQ(canvas.width(), 3);
  EXPECT_EQ(canvas.height(), 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) EXPECT_EQ(at(canvas, x, y), (Color{1, 2, 3}));
  Image image = canvas.take();
  EXPECT_EQ(image.width, 3);
  EXPECT_EQ(image.height, 2);
  EXPECT_EQ(image.rgb, (std::vector<uint8_t>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
}

TEST(Canvas, DefaultBackgroundIsWhite) {
  Canvas canvas(2, 2);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"..", ".."}));
}

TEST(Canvas, NonPositiveSizeThrows) {
  EXPECT_THROW(Canvas(0, 5), MuseError);
  EXPECT_THROW(Canvas(5, -1), MuseError);
}

TEST(Canvas, SetIgnoresPixelsOutside) {
  Canvas canvas(3, 3);
  canvas.set(1, 2, kInk);
  for (auto [x, y] : std::vector<std::pair<int, int>>{{-1, 0}, {0, -1}, {3, 0}, {0, 3}, {1000000, -1000000}})
    canvas.set(x, y, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"...", "...", ".#."}));
}

TEST(Canvas, FillRectIsHalfOpen) {
  Canvas canvas(6, 4);
  canvas.fill_rect(1, 1, 4, 3, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"......", ".###..", ".###..", "......"}));
}

TEST(Canvas, FillRectClipsAndIgnoresEmptyBoxes) {
  Canvas canvas(4, 3);
  canvas.fill_rect(-5, -5, 2, 1, kInk);
  canvas.fill_rect(3, 2, 100, 100, kInk);
  canvas.fill_rect(2, 2, 2, 3, kInk);  // zero width
  canvas.fill_rect(3, 1, 1, 2, kInk);  // inverted
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"##..", "....", "...#"}));
}

TEST(Canvas, CircleIsPixelCentresWithinRadiusPlusHalf) {
  Canvas canvas(9, 9);
  canvas.fill_circle(4, 4, 3, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{
                             ".........",
                             "...###...",
                             "..#####..",
                             ".#######.",
                             ".#######.",
                             ".#######.",
                             "..#####..",
                             "...###...",
                             ".........",
                         }));
  Canvas five(5, 5);
  five.fill_circle(2, 2, 2, kInk);
  EXPECT_EQ(art(five), (std::vector<std::string>{".###.", "#####", "#####", "#####", ".###."}));
  Canvas three(3, 3);  // corners are sqrt(2) < 1.5 away: a radius-1 circle is its full 3x3 box
  three.fill_circle(1, 1, 1, kInk);
  EXPECT_EQ(art(three), (std::vector<std::string>{"###", "###", "###"}));
  Canvas dot(3, 3);
  dot.fill_circle(1, 1, 0, kInk);
  EXPECT_EQ(art(dot), (std::vector<std::string>{"...", ".#.", "..."}));
}

TEST(Canvas, CircleClipsAtTheEdges) {
  Canvas canvas(4, 4);
  canvas.fill_circle(0, 0, 2, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"###.", "###.", "##..", "...."}));
  Canvas far(4, 4);
  far.fill_circle(-10, 50, 3, kInk);
  EXPECT_EQ(ink_count(far), 0);
}

TEST(Canvas, TriangleFillsInteriorAndBoundaryInEitherWinding) {
  const std::vector<std::string> expected = {
      ".......",
      "...#...",
      "...#...",
      "..###..",
      "..###..",
      ".#####.",
      ".#####.",
      "#######",
  };
  Canvas clockwise(7, 8), counter(7, 8);
  clockwise.fill_triangle(3, 1, 6, 7, 0, 7, kInk);
  counter.fill_triangle(3, 1, 0, 7, 6, 7, kInk);
  EXPECT_EQ(art(clockwise), expected);
  EXPECT_EQ(art(counter), expected);
}

TEST(Canvas, RightTriangleAndClipping) {
  Canvas canvas(4, 4);
  canvas.fill_triangle(-1, -1, 3, -1, -1, 3, kInk);  // hypotenuse x + y = 2
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"###.", "##..", "#...", "...."}));
}

TEST(Canvas, DegenerateTriangleIsItsSegment) {
  Canvas canvas(5, 3);
  canvas.fill_triangle(0, 1, 2, 1, 4, 1, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{".....", "#####", "....."}));
}

TEST(Canvas, ShapesFitTheirBox) {
  Canvas canvas(23, 7);
  canvas.draw_shape(Shape::Square, 3, 3, 3, kInk);
  canvas.draw_shape(Shape::Circle, 11, 3, 3, kInk);
  canvas.draw_shape(Shape::Triangle, 19, 3, 3, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{
                             "#######...###......#...",
                             "#######..#####.....#...",
                             "#######.#######...###..",
                             "#######.#######...###..",
                             "#######.#######..#####.",
                             "#######..#####...#####.",
                             "#######...###...#######",
                         }));
}

TEST(Canvas, ShapeNames) {
  EXPECT_STREQ(shape_name(Shape::Square), "square");
  EXPECT_STREQ(shape_name(Shape::Circle), "circle");
  EXPECT_STREQ(shape_name(Shape::Triangle), "triangle");
}

TEST(Canvas, LineIsBresenhamWithBothEnds) {
  Canvas canvas(6, 3);
  canvas.draw_line(0, 0, 5, 2, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"##....", "..##..", "....##"}));
  Canvas vertical(3, 4);
  vertical.draw_line(1, 3, 1, 0, kInk);
  EXPECT_EQ(art(vertical), (std::vector<std::string>{".#.", ".#.", ".#.", ".#."}));
  Canvas diagonal(3, 3);
  diagonal.draw_line(2, 0, 0, 2, kInk);
  EXPECT_EQ(art(diagonal), (std::vector<std::string>{"..#", ".#.", "#.."}));
  Canvas point(3, 3);
  point.draw_line(1, 1, 1, 1, kInk);
  EXPECT_EQ(art(point), (std::vector<std::string>{"...", ".#.", "..."}));
}

TEST(Canvas, ThickLinesStampSquares) {
  Canvas three(6, 5);
  three.draw_line(1, 2, 4, 2, kInk, 3);
  EXPECT_EQ(art(three), (std::vector<std::string>{"......", "######", "######", "######", "......"}));
  Canvas two(4, 4);
  two.draw_line(1, 1, 1, 1, kInk, 2);
  EXPECT_EQ(art(two), (std::vector<std::string>{"....", ".##.", ".##.", "...."}));
  Canvas canvas(2, 2);
  EXPECT_THROW(canvas.draw_line(0, 0, 1, 1, kInk, 0), MuseError);
}

TEST(Canvas, LinesClipAtTheEdges) {
  Canvas canvas(4, 3);
  canvas.draw_line(-3, 1, 10, 1, kInk);
  canvas.draw_line(-100, -100, -50, -50, kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"....", "####", "...."}));
}

TEST(Canvas, TextDrawsGlyphBitmaps) {
  Canvas canvas(11, 7);
  canvas.draw_text(0, 0, "17", kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{
                             "..#...#####",
                             ".##.......#",
                             "..#......#.",
                             "..#.....#..",
                             "..#....#...",
                             "..#....#...",
                             ".###...#...",
                         }));
}

TEST(Canvas, TextScalesEveryPixelAndTheSpacing) {
  const int scale = 3;
  Canvas canvas(40, 25);
  canvas.draw_text(2, 1, "4A", kInk, scale);
  const std::vector<std::string> rows = art(canvas);
  for (int y = 0; y < canvas.height(); ++y)
    for (int x = 0; x < canvas.width(); ++x) {
      bool ink = false;
      const int gy = (y - 1) / scale, cell = (x - 2) / (6 * scale), gx = ((x - 2) % (6 * scale)) / scale;
      if (y >= 1 && x >= 2 && gy < 7 && cell < 2 && gx < 5) ink = font5x7_glyph("4A"[cell])[gy][gx] == '#';
      EXPECT_EQ(rows[y][x], ink ? '#' : '.') << x << "," << y;
    }
}

TEST(Canvas, TextClipsAtTheEdges) {
  Canvas canvas(4, 4);
  canvas.draw_text(-2, -3, "8", kInk);
  EXPECT_EQ(art(canvas), (std::vector<std::string>{"##..", "..#.", "..#.", "##.."}));
  Canvas far(4, 4);
  far.draw_text(100, 100, "88", kInk, 5);
  EXPECT_EQ(ink_count(far), 0);
}

TEST(Canvas, TextMetrics) {
  EXPECT_EQ(Canvas::text_width("", 1), 0);
  EXPECT_EQ(Canvas::text_width("7", 1), 5);
  EXPECT_EQ(Canvas::text_width("ab", 1), 11);
  EXPECT_EQ(Canvas::text_width("123", 3), 51);
  EXPECT_EQ(Canvas::text_height(1), 7);
  EXPECT_EQ(Canvas::text_height(4), 28);
  EXPECT_THROW(Canvas::text_width("1", 0), MuseError);
  EXPECT_THROW(Canvas::text_height(0), MuseError);
}

TEST(Canvas, TextBoxIsTheInkBoundingBoxOfWideText) {
  // "0#" reaches every edge of its box: x0, x1 - 1, y0 and y1 - 1 all carry ink.
  const int scale = 2;
  Canvas canvas(40, 20);
  canvas.draw_text(3, 4, "0#", kInk, scale);
  int min_x = 1000, min_y = 1000, max_x = -1, max_y = -1;
  const auto rows = art(canvas);
  for (int y = 0; y < canvas.height(); ++y)
    for (int x = 0; x < canvas.width(); ++x)
      if (rows[y][x] == '#') {
        min_x = std::min(min_x, x), max_x = std::max(max_x, x);
        min_y = std::min(min_y, y), max_y = std::max(max_y, y);
      }
  EXPECT_EQ(min_x, 3);
  EXPECT_EQ(min_y, 4);
  EXPECT_EQ(max_x + 1, 3 + Canvas::text_width("0#", scale));
  EXPECT_EQ(max_y + 1, 4 + Canvas::text_height(scale));
}

TEST(Canvas, UnknownCharacterThrowsAndDrawsNothing) {
  Canvas canvas(30, 8);
  const std::vector<std::string> texts = {"ab~", "_", "1\n2", "x\ty", "caf\xc3\xa9", std::string(1, '\0')};
  for (const std::string& text : texts) {
    EXPECT_THROW(canvas.draw_text(0, 0, text, kInk), MuseError) << text;
    EXPECT_THROW(Canvas::text_width(text), MuseError) << text;
  }
  EXPECT_EQ(ink_count(canvas), 0);
  EXPECT_THROW(canvas.draw_text(0, 0, "1", kInk, 0), MuseError);
}

TEST(CanvasFont, CoversExactlyTheDocumentedCharacters) {
  const std::string expected = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ +-=.,:?!()/%#<>";
  EXPECT_EQ(std::set<char>(font5x7_charset().begin(), font5x7_charset().end()),
            std::set<char>(expected.begin(), expected.end()));
  EXPECT_EQ(font5x7_charset().size(), expected.size());
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool lower = c >= 'a' && c <= 'z';
    EXPECT_EQ(font5x7_glyph(c) != nullptr, lower || expected.find(c) != std::string::npos) << byte;
    if (lower) {
      EXPECT_EQ(font5x7_glyph(c), font5x7_glyph(static_cast<char>(c - 'a' + 'A')));
    }
  }
}

TEST(CanvasFont, EveryGlyphIsWellFormedNonEmptyAndDistinct) {
  std::vector<std::string> bitmaps;
  for (char c : font5x7_charset()) {
    const char* const* rows = font5x7_glyph(c);
    std::string bits;
    for (int y = 0; y < kGlyphHeight; ++y) {
      ASSERT_EQ(std::string(rows[y]).size(), static_cast<size_t>(kGlyphWidth)) << c;
      bits += rows[y];
    }
    EXPECT_EQ(bits.find_first_not_of("#."), std::string::npos) << c;
    if (c == ' ')
      EXPECT_EQ(bits.find('#'), std::string::npos);
    else
      EXPECT_NE(bits.find('#'), std::string::npos) << c;
    bitmaps.push_back(bits);
  }
  // Any two glyphs differ in at least 3 pixels, so one stray pixel can never turn one into another.
  for (size_t i = 0; i < bitmaps.size(); ++i)
    for (size_t j = i + 1; j < bitmaps.size(); ++j) {
      int differing = 0;
      for (size_t k = 0; k < bitmaps[i].size(); ++k) differing += bitmaps[i][k] != bitmaps[j][k];
      EXPECT_GE(differing, 3) << font5x7_charset()[i] << " vs " << font5x7_charset()[j];
    }
}

TEST(CanvasFont, LowerCaseDrawsAsCapitals) {
  Canvas lower(60, 7), upper(60, 7);
  lower.draw_text(0, 0, "muse ok", kInk);
  upper.draw_text(0, 0, "MUSE OK", kInk);
  EXPECT_EQ(art(lower), art(upper));
  EXPECT_GT(ink_count(lower), 0);
}

TEST(CanvasColors, AreTheDocumentedDistinctColours) {
  std::vector<std::string> names;
  for (const auto& entry : named_colors()) names.push_back(entry.first);
  EXPECT_EQ(names, (std::vector<std::string>{"red", "green", "blue", "yellow", "purple", "orange", "black", "gray",
                                             "white"}));
  const auto& colors = named_colors();
  for (size_t i = 0; i < colors.size(); ++i) {
    EXPECT_EQ(color_by_name(colors[i].first), colors[i].second);
    for (size_t j = i + 1; j < colors.size(); ++j) {
      const Color a = colors[i].second, b = colors[j].second;
      const int distance = std::abs(a.r - b.r) + std::abs(a.g - b.g) + std::abs(a.b - b.b);
      EXPECT_GE(distance, 100) << colors[i].first << " vs " << colors[j].first;
    }
  }
  EXPECT_EQ(color_by_name("white"), kWhite);
  EXPECT_THROW(color_by_name("Red"), MuseError);
  EXPECT_THROW(color_by_name("pink"), MuseError);
}

}  // namespace
}  // namespace muse

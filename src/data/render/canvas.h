// A small rasterizer for the synthetic visual tasks: filled shapes, lines and text in a clean 5x7 bitmap
// font, drawn onto an Image. Shapes are anti-aliasing-free on purpose: a task's pixels are an exact function
// of its parameters, so a rendered problem is reproducible bit for bit.
#pragma once
#include <string>
#include <vector>

#include "data/image.h"

namespace muse {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color& o) const { return r == o.r && g == o.g && b == o.b; }
  bool operator!=(const Color& o) const { return !(*this == o); }
};

// Named colours the tasks use (distinct under downscaling): red, green, blue, yellow, purple, orange, black,
// gray, white.
const std::vector<std::pair<std::string, Color>>& named_colors();
Color color_by_name(const std::string& name);  // MuseError for unknown names

enum class Shape { Square, Circle, Triangle };
const char* shape_name(Shape shape);  // "square", "circle", "triangle"

class Canvas {
 public:
  Canvas(int width, int height, Color background = {255, 255, 255});  // MuseError unless both sizes >= 1
  int width() const { return image_.width; }
  int height() const { return image_.height; }
  const Image& image() const { return image_; }
  Image take() { return std::move(image_); }

  void set(int x, int y, Color c);  // ignores pixels outside the canvas
  void fill_rect(int x0, int y0, int x1, int y1, Color c);  // [x0, x1) x [y0, y1), clipped
  // Pixels with dx^2 + dy^2 <= radius^2 + radius (centres within radius + 1/2); clipped.
  void fill_circle(int cx, int cy, int radius, Color c);
  // Pixels inside the triangle or on its boundary (either winding); clipped.
  void fill_triangle(int x0, int y0, int x1, int y1, int x2, int y2, Color c);
  // A shape centred at (cx, cy) that fits in a (2 * radius + 1) square: the full square, the circle, or the
  // triangle with its apex at the top centre and its base along the bottom edge.
  void draw_shape(Shape shape, int cx, int cy, int radius, Color c);
  // Bresenham, both ends included; thickness t stamps a t x t square per point. Throws MuseError if t < 1.
  void draw_line(int x0, int y0, int x1, int y1, Color c, int thickness = 1);
  // Text in the 5x7 font, each glyph cell 6 x 8 pixels times `scale` (1 px spacing). (x, y) is the top-left.
  // Supports digits, A-Z, a-z (drawn as capitals), space and + - = . , : ? ! ( ) / % # < >; other characters
  // throw MuseError (and nothing is drawn). Throws MuseError if scale < 1.
  void draw_text(int x, int y, const std::string& text, Color c, int scale = 1);
  static int text_width(const std::string& text, int scale = 1);  // 6 * scale per glyph, minus the trailing gap
  static int text_height(int scale = 1);                           // 7 * scale

 private:
  Image image_;
};

}  // namespace muse

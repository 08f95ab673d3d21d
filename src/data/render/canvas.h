// A small rasterizer for the synthetic visual tasks: filled shapes, lines and text in three bitmap faces (the
// 5x7 font, its bold variant and a 3x5 font), drawn onto an Image. The integer-grid primitives are
// anti-aliasing-free; the "_f" primitives take continuous coordinates (pixel (x, y) covers [x, x+1) x [y, y+1))
// and blend each pixel by its coverage, estimated from samples x samples sub-pixel points (samples = 1: the
// pixel centre only, i.e. aliased; 4: 16-sample supersampled anti-aliasing). Everything is plain arithmetic,
// so a task's pixels are an exact function of its parameters and reproducible bit for bit.
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

// Bitmap faces: Classic = the 5x7 font (6 px advance), Bold = the 5x7 glyphs with every stroke one pixel wider
// (6 x 7 glyphs, 7 px advance), Small = the 3x5 font (font3x5.h; 4 px advance). Bold draws Classic's charset;
// Small draws font3x5_charset().
enum class Font { Classic, Bold, Small };
const char* font_name(Font font);  // "classic", "bold", "small"
int font_glyph_width(Font font);   // 5, 6, 3
int font_glyph_height(Font font);  // 7, 7, 5
bool font_has(Font font, char c);
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
  // The same in another face: glyph cell (glyph width + 1) x (glyph height + 1) times `scale`.
  void draw_text(int x, int y, const std::string& text, Color c, int scale, Font font);
  static int text_width(const std::string& text, int scale, Font font);
  static int text_height(int scale, Font font);

  // Blends c over pixel (x, y) with weight alpha in [0, 1] (rounded to the nearest byte); ignores pixels
  // outside the canvas. alpha >= 1 sets the pixel exactly.
  void blend(int x, int y, Color c, double alpha);
  // Continuous-coordinate, coverage-blended primitives (see the top of this file). samples >= 1 (MuseError).
  void fill_rect_f(double x0, double y0, double x1, double y1, Color c, int samples);
  // A shape centred at (cx, cy) of "radius" r: the square |dx|, |dy| <= r, the disc dx^2 + dy^2 <= r^2, or the
  // triangle with apex (cx, cy - r) and base from (cx - r, cy + r) to (cx + r, cy + r).
  void fill_shape_f(Shape shape, double cx, double cy, double r, Color c, int samples);
  // The points within width / 2 of the segment (round caps).
  void draw_line_f(double x0, double y0, double x1, double y1, double width, Color c, int samples);

 private:
  Image image_;
};

}  // namespace muse

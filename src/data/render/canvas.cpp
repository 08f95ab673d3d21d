#include "data/render/canvas.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "data/render/font3x5.h"
#include "data/render/font5x7.h"
#include "util/error.h"

namespace muse {

namespace {

// Twice the signed area of (a, b, p): > 0 when p is left of a->b (in image coordinates, y down).
int64_t edge(int64_t ax, int64_t ay, int64_t bx, int64_t by, int64_t px, int64_t py) {
  return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

void check_text(const std::string& text, int scale) {
  if (scale < 1) throw MuseError("canvas: text scale must be at least 1, got " + std::to_string(scale));
  for (char c : text)
    if (font5x7_glyph(c) == nullptr) {
      const auto byte = static_cast<unsigned char>(c);
      const std::string shown =
          byte >= 32 && byte < 127 ? "'" + std::string(1, c) + "'" : "byte " + std::to_string(byte);
      throw MuseError("canvas: the 5x7 font has no glyph for " + shown);
    }
}

// Ink at glyph pixel (gx, gy) of `font`; false outside the glyph.
bool glyph_ink(Font font, char c, int gx, int gy) {
  if (gy < 0 || gx < 0 || gy >= font_glyph_height(font) || gx >= font_glyph_width(font)) return false;
  if (font == Font::Small) return font3x5_glyph(c)[gy][gx] == '#';
  const char* const* rows = font5x7_glyph(c);
  const bool here = gx < kGlyphWidth && rows[gy][gx] == '#';
  if (font == Font::Classic) return here;
  return here || (gx >= 1 && rows[gy][gx - 1] == '#');  // Bold: each stroke one pixel wider to the right
}

void check_font_text(const std::string& text, int scale, Font font) {
  if (scale < 1) throw MuseError("canvas: text scale must be at least 1, got " + std::to_string(scale));
  for (char c : text)
    if (!font_has(font, c)) {
      const auto byte = static_cast<unsigned char>(c);
      const std::string shown =
          byte >= 32 && byte < 127 ? "'" + std::string(1, c) + "'" : "byte " + std::to_string(byte);
      throw MuseError(std::string("canvas: the ") + font_name(font) + " font has no glyph for " + shown);
    }
}

void check_samples(int samples) {
  if (samples < 1) throw MuseError("canvas: samples must be at least 1, got " + std::to_string(samples));
}

}  // namespace

const char* font_name(Font font) {
  switch (font) {
    case Font::Classic: return "classic";
    case Font::Bold: return "bold";
    case Font::Small: return "small";
  }
  throw MuseError("canvas: unknown font");
}

int font_glyph_width(Font font) { return font == Font::Small ? kSmallGlyphWidth : font == Font::Bold ? 6 : kGlyphWidth; }
int font_glyph_height(Font font) { return font == Font::Small ? kSmallGlyphHeight : kGlyphHeight; }
bool font_has(Font font, char c) {
  return font == Font::Small ? font3x5_glyph(c) != nullptr : font5x7_glyph(c) != nullptr;
}

const std::vector<std::pair<std::string, Color>>& named_colors() {
  // Saturated and far apart in RGB, so each stays recognisable when averaged down with white around it.
  static const std::vector<std::pair<std::string, Color>> colors = {
      {"red", {220, 20, 20}},     {"green", {20, 160, 40}},   {"blue", {30, 60, 220}},
      {"yellow", {240, 220, 0}},  {"purple", {140, 40, 170}}, {"orange", {250, 120, 0}},
      {"black", {0, 0, 0}},       {"gray", {128, 128, 128}},  {"white", {255, 255, 255}},
  };
  return colors;
}

Color color_by_name(const std::string& name) {
  for (const auto& [color_name, color] : named_colors())
    if (color_name == name) return color;
  throw MuseError("canvas: unknown colour '" + name + "'");
}

const char* shape_name(Shape shape) {
  switch (shape) {
    case Shape::Square: return "square";
    case Shape::Circle: return "circle";
    case Shape::Triangle: return "triangle";
  }
  throw MuseError("canvas: unknown shape");
}

Canvas::Canvas(int width, int height, Color background) {
  if (width < 1 || height < 1)
    throw MuseError("canvas: size must be positive, got " + std::to_string(width) + "x" + std::to_string(height));
  // make_image is not relied upon here: the fields are filled directly.
  image_.width = width;
  image_.height = height;
  image_.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image_.rgb.size(); i += 3) {
    image_.rgb[i] = background.r;
    image_.rgb[i + 1] = background.g;
    image_.rgb[i + 2] = background.b;
  }
}

void Canvas::set(int x, int y, Color c) {
  if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
  uint8_t* p = image_.pixel(x, y);
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Color c) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, image_.width);
  y1 = std::min(y1, image_.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) set(x, y, c);
}

// Pixels whose offset (dx, dy) from the centre has dx^2 + dy^2 <= r^2 + r, i.e. pixel centres strictly within
// r + 1/2: rounder than <= r^2 at small radii (no single-pixel nubs at the poles). Radius 0 is one pixel, radius
// 1 its full 3x3 box; from radius 2 up a circle is told from a square by its corners.
void Canvas::fill_circle(int cx, int cy, int radius, Color c) {
  if (radius < 0) return;
  const int64_t limit = static_cast<int64_t>(radius) * radius + radius;
  const int y0 = std::max(cy - radius, 0), y1 = std::min(cy + radius, image_.height - 1);
  const int x0 = std::max(cx - radius, 0), x1 = std::min(cx + radius, image_.width - 1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const int64_t dx = x - cx, dy = y - cy;
      if (dx * dx + dy * dy <= limit) set(x, y, c);
    }
}

// Every pixel whose integer coordinates lie inside the triangle or on its boundary, either winding. A degenerate
// (collinear) triangle fills the lattice points on its segment.
void Canvas::fill_triangle(int x0, int y0, int x1, int y1, int x2, int y2, Color c) {
  const int min_x = std::max(std::min({x0, x1, x2}), 0), max_x = std::min(std::max({x0, x1, x2}), image_.width - 1);
  const int min_y = std::max(std::min({y0, y1, y2}), 0), max_y = std::min(std::max({y0, y1, y2}), image_.height - 1);
  for (int y = min_y; y <= max_y; ++y)
    for (int x = min_x; x <= max_x; ++x) {
      const int64_t w0 = edge(x1, y1, x2, y2, x, y);
      const int64_t w1 = edge(x2, y2, x0, y0, x, y);
      const int64_t w2 = edge(x0, y0, x1, y1, x, y);
      if ((w0 >= 0 && w1 >= 0 && w2 >= 0) || (w0 <= 0 && w1 <= 0 && w2 <= 0)) set(x, y, c);
    }
}

// Square: the whole (2r+1)^2 box. Circle: fill_circle. Triangle: apex at the top centre, base along the bottom.
void Canvas::draw_shape(Shape shape, int cx, int cy, int radius, Color c) {
  switch (shape) {
    case Shape::Square: fill_rect(cx - radius, cy - radius, cx + radius + 1, cy + radius + 1, c); return;
    case Shape::Circle: fill_circle(cx, cy, radius, c); return;
    case Shape::Triangle: fill_triangle(cx, cy - radius, cx - radius, cy + radius, cx + radius, cy + radius, c); return;
  }
  throw MuseError("canvas: unknown shape");
}

// Bresenham from (x0, y0) to (x1, y1), both ends included. Thickness t stamps a t x t square at each point, its
// top-left (t - 1) / 2 pixels up and left of the point.
void Canvas::draw_line(int x0, int y0, int x1, int y1, Color c, int thickness) {
  if (thickness < 1) throw MuseError("canvas: line thickness must be at least 1, got " + std::to_string(thickness));
  const int back = (thickness - 1) / 2;
  const int dx = std::abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
  const int dy = -std::abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (int x = x0, y = y0;;) {
    if (thickness == 1)
      set(x, y, c);
    else
      fill_rect(x - back, y - back, x - back + thickness, y - back + thickness, c);
    if (x == x1 && y == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

void Canvas::draw_text(int x, int y, const std::string& text, Color c, int scale) {
  check_text(text, scale);  // all or nothing: an unknown character draws no part of the text
  const int advance = (kGlyphWidth + 1) * scale;
  for (size_t i = 0; i < text.size(); ++i) {
    const char* const* rows = font5x7_glyph(text[i]);
    const int left = x + static_cast<int>(i) * advance;
    for (int gy = 0; gy < kGlyphHeight; ++gy)
      for (int gx = 0; gx < kGlyphWidth; ++gx)
        if (rows[gy][gx] == '#')
          fill_rect(left + gx * scale, y + gy * scale, left + (gx + 1) * scale, y + (gy + 1) * scale, c);
  }
}

void Canvas::draw_text(int x, int y, const std::string& text, Color c, int scale, Font font) {
  check_font_text(text, scale, font);
  const int gw = font_glyph_width(font), gh = font_glyph_height(font);
  const int advance = (gw + 1) * scale;
  for (size_t i = 0; i < text.size(); ++i) {
    const int left = x + static_cast<int>(i) * advance;
    for (int gy = 0; gy < gh; ++gy)
      for (int gx = 0; gx < gw; ++gx)
        if (glyph_ink(font, text[i], gx, gy))
          fill_rect(left + gx * scale, y + gy * scale, left + (gx + 1) * scale, y + (gy + 1) * scale, c);
  }
}

int Canvas::text_width(const std::string& text, int scale, Font font) {
  check_font_text(text, scale, font);
  if (text.empty()) return 0;
  return static_cast<int>(text.size()) * (font_glyph_width(font) + 1) * scale - scale;
}

int Canvas::text_height(int scale, Font font) {
  if (scale < 1) throw MuseError("canvas: text scale must be at least 1, got " + std::to_string(scale));
  return font_glyph_height(font) * scale;
}

void Canvas::blend(int x, int y, Color c, double alpha) {
  if (x < 0 || y < 0 || x >= image_.width || y >= image_.height || alpha <= 0) return;
  if (alpha >= 1) return set(x, y, c);
  uint8_t* p = image_.pixel(x, y);
  const uint8_t src[3] = {c.r, c.g, c.b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::lround(p[k] + (src[k] - p[k]) * alpha));
}

namespace {

// Coverage of every pixel in the (clipped) box [x0, x1) x [y0, y1) by `inside`, blended onto the canvas.
void cover(Canvas& canvas, double bx0, double by0, double bx1, double by1, Color c, int samples,
           const std::function<bool(double, double)>& inside) {
  check_samples(samples);
  const int x0 = std::max(static_cast<int>(std::floor(bx0)) - 1, 0);
  const int y0 = std::max(static_cast<int>(std::floor(by0)) - 1, 0);
  const int x1 = std::min(static_cast<int>(std::ceil(bx1)) + 1, canvas.width());
  const int y1 = std::min(static_cast<int>(std::ceil(by1)) + 1, canvas.height());
  const double step = 1.0 / samples;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      int hits = 0;
      for (int sy = 0; sy < samples; ++sy)
        for (int sx = 0; sx < samples; ++sx)
          if (inside(x + (sx + 0.5) * step, y + (sy + 0.5) * step)) ++hits;
      if (hits > 0) canvas.blend(x, y, c, static_cast<double>(hits) / (samples * samples));
    }
}

}  // namespace

void Canvas::fill_rect_f(double x0, double y0, double x1, double y1, Color c, int samples) {
  cover(*this, x0, y0, x1, y1, c, samples,
        [&](double px, double py) { return px >= x0 && px < x1 && py >= y0 && py < y1; });
}

void Canvas::fill_shape_f(Shape shape, double cx, double cy, double r, Color c, int samples) {
  const double x0 = cx - r, y0 = cy - r, x1 = cx + r, y1 = cy + r;
  switch (shape) {
    case Shape::Square:
      cover(*this, x0, y0, x1, y1, c, samples,
            [&](double px, double py) { return std::abs(px - cx) <= r && std::abs(py - cy) <= r; });
      return;
    case Shape::Circle:
      cover(*this, x0, y0, x1, y1, c, samples, [&](double px, double py) {
        return (px - cx) * (px - cx) + (py - cy) * (py - cy) <= r * r;
      });
      return;
    case Shape::Triangle:
      // Inside when below the apex row, above the base and within the two slanted edges: |dx| <= (dy + r) / 2.
      cover(*this, x0, y0, x1, y1, c, samples, [&](double px, double py) {
        const double dy = py - cy;
        return dy >= -r && dy <= r && std::abs(px - cx) <= (dy + r) / 2;
      });
      return;
  }
  throw MuseError("canvas: unknown shape");
}

void Canvas::draw_line_f(double x0, double y0, double x1, double y1, double width, Color c, int samples) {
  const double half = width / 2, dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
  cover(*this, std::min(x0, x1) - half, std::min(y0, y1) - half, std::max(x0, x1) + half, std::max(y0, y1) + half, c,
        samples, [&](double px, double py) {
          double t = length2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / length2 : 0.0;
          t = std::min(1.0, std::max(0.0, t));
          const double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
          return ex * ex + ey * ey <= half * half;
        });
}

int Canvas::text_width(const std::string& text, int scale) {
  check_text(text, scale);
  if (text.empty()) return 0;
  return static_cast<int>(text.size()) * (kGlyphWidth + 1) * scale - scale;
}

int Canvas::text_height(int scale) {
  if (scale < 1) throw MuseError("canvas: text scale must be at least 1, got " + std::to_string(scale));
  return kGlyphHeight * scale;
}

}  // namespace muse

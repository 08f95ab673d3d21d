// The shared picture-style space of the image tasks (count, chart, read, grid): background tint, anti-aliasing,
// bitmap face, and colour shades. Each task samples a RenderStyle per problem and adds its own parameters
// (sizes, placement, chart furniture) on top; see each task's header for its full style space.
//
// Backgrounds: white (40% of trained draws), cream, light gray, rose, sky (15% each). Anti-aliasing: on half
// the time (16-sample supersampling of shapes, lines and bars). Font: classic 5x7, bold 5x7 or small 3x5,
// uniformly (tasks that draw no text ignore it).
//
// The HELD-OUT style is one combination training never sees: the sky background together with anti-aliasing
// (and, for tasks that draw text, the small 3x5 font). Surface::Trained rejects every sky + anti-aliased draw
// (sky without anti-aliasing, and anti-aliasing on other backgrounds, are trained); Surface::Heldout always
// draws exactly sky + anti-aliasing + small font.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/render/canvas.h"
#include "data/surface.h"
#include "util/rng.h"

namespace muse {

// The background tints (name, colour), light enough that every named ink colour keeps its contrast.
const std::vector<std::pair<std::string, Color>>& style_backgrounds();
constexpr int kHeldoutBackground = 4;  // "sky" in style_backgrounds()

struct RenderStyle {
  int background = 0;        // index into style_backgrounds()
  bool antialias = false;
  Font font = Font::Classic;
  Color background_color() const;
  const std::string& background_name() const;
  int samples() const { return antialias ? 4 : 1; }  // sub-samples per axis for Canvas::*_f
  // {"background", "antialias", "font", "heldout"}
  nlohmann::json to_json() const;
};

// The held-out combination: the sky background with anti-aliasing (the font is not part of the test, so
// tasks without text share it).
bool is_heldout_style(const RenderStyle& style);
// A style for `surface`: Trained samples the space above and rejects the held-out combination; Heldout returns
// it (sky, anti-aliased, small font). Consumes rng draws in both cases.
RenderStyle sample_style(Rng& rng, Surface surface);

// A shade of `base`: every channel moved by its own uniform offset in [-spread, spread], clamped to
// 0..255 (so a "red" stays in a recognisable red range for spreads up to ~30).
Color shade(Rng& rng, Color base, int spread);
nlohmann::json color_json(Color c);  // [r, g, b]

}  // namespace muse

#include "data/render/style.h"

#include <algorithm>

#include "util/error.h"

namespace muse {

const std::vector<std::pair<std::string, Color>>& style_backgrounds() {
  static const std::vector<std::pair<std::string, Color>> backgrounds = {
      {"white", {255, 255, 255}}, {"cream", {250, 244, 226}}, {"lightgray", {232, 232, 232}},
      {"rose", {250, 234, 238}},  {"sky", {214, 230, 248}},
  };
  return backgrounds;
}

Color RenderStyle::background_color() const { return style_backgrounds().at(static_cast<size_t>(background)).second; }
const std::string& RenderStyle::background_name() const {
  return style_backgrounds().at(static_cast<size_t>(background)).first;
}

nlohmann::json RenderStyle::to_json() const {
  return {{"background", background_name()}, {"antialias", antialias}, {"font", font_name(font)},
          {"heldout", is_heldout_style(*this)}};
}

bool is_heldout_style(const RenderStyle& style) { return style.background == kHeldoutBackground && style.antialias; }

RenderStyle sample_style(Rng& rng, Surface surface) {
  RenderStyle style;
  for (;;) {
    const double u = rng.uniform();
    style.background = u < 0.4 ? 0 : std::min(4, 1 + static_cast<int>((u - 0.4) / 0.15));
    style.antialias = rng.bernoulli(0.5);
    style.font = static_cast<Font>(rng.uniform_int(0, 2));
    if (surface == Surface::Heldout) {
      style.background = kHeldoutBackground;
      style.antialias = true;
      style.font = Font::Small;
      return style;
    }
    if (!is_heldout_style(style)) return style;
  }
}

Color shade(Rng& rng, Color base, int spread) {
  auto move = [&](uint8_t v) {
    return static_cast<uint8_t>(std::clamp<int64_t>(v + rng.uniform_int(-spread, spread), 0, 255));
  };
  Color out;
  out.r = move(base.r);
  out.g = move(base.g);
  out.b = move(base.b);
  return out;
}

nlohmann::json color_json(Color c) { return {c.r, c.g, c.b}; }

}  // namespace muse

// Muse's second bitmap font: a small 3x5 face (digits, capitals and a little punctuation), so the image tasks
// are not all written in one typeface. Glyphs are drawn to stay pairwise distinct (any two differ in at least
// one pixel); at scale 1 they are only legible at full resolution, at scale 2 and up in a downscaled view.
#pragma once
#include <string>

namespace muse {

constexpr int kSmallGlyphWidth = 3;
constexpr int kSmallGlyphHeight = 5;

// The glyph for `c`: kSmallGlyphHeight rows of kSmallGlyphWidth characters, top row first, '#' = ink, '.' =
// blank. Lower-case letters map to their capitals. nullptr for characters the font lacks.
const char* const* font3x5_glyph(char c);

// Every character the font draws (each once; lower case is not listed separately).
const std::string& font3x5_charset();

}  // namespace muse

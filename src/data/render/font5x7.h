// Muse's own 5x7 bitmap font for the rasterizer: digits, capitals, space and a little punctuation.
#pragma once
#include <string>

namespace muse {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 7;

// The glyph for `c`: kGlyphHeight rows of kGlyphWidth characters, top row first, '#' = ink, '.' = blank.
// Lower-case letters map to their capitals. nullptr for characters the font lacks.
const char* const* font5x7_glyph(char c);

// Every character the font draws (each once; lower case is not listed separately).
const std::string& font5x7_charset();

}  // namespace muse

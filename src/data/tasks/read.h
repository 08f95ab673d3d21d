// Read: the number written somewhere in a larger image, in the 5x7 font, among a few distractor shapes.
//
// The image (white, 3:2) is larger than the first view, which is downscaled to 72 x 48 to fit the 64-patch
// budget. Difficulty 1..3 sets the image size, font scale and digit count:
//   1  192 x 128, scale 4 (glyphs 20 x 28 px, 7.5 x 10.5 in the view: legible), 1-3 digits, 2-4 shapes
//   2  288 x 192, scale 2 (10 x 14 px, 2.5 x 3.5 in the view: a smudge), 2-4 digits, 3-5 shapes
//   3  288 x 192, scale 1 (5 x 7 px, under 2 x 2 in the view), 3-6 digits, 4-6 shapes
// The number is uniform over those with that many digits (one digit: 0..9), drawn in black, blue, purple, red
// or green anywhere with a 4-pixel margin; the shapes (radius 3..10, any colour but white/black) never come
// within 3 pixels of it. At 2 and 3 the digits are only legible in a full-resolution crop of meta["bbox"]
// (what a zoom tool shows; the box always fits one view unscaled).
//
// Prompt: the image, then "What number is written?". Reasoning: where the text is, as the first and last
// patch cell (row, col) of the first view that its box touches (what the model can point at before zooming),
// its digits one by one, then the number:   at r2c3-r2c5: 4 7 1 =471
// Answer: the number in decimal. verify(): 1.0 for exactly that string after trimming, else 0.
// meta: {"number": "471", "bbox": [x0, y0, x1, y1] (original pixels, end exclusive),
//        "view_cells": [row0, col0, row1, col1] (first-view patch cells, inclusive), "scale": s, "color": "blue", "width": 288, "height": 192,
//        "shapes": [{"shape", "x", "y", "radius", "color"}, ...]}
#pragma once
#include <string>

#include "data/task.h"

namespace muse {

class ReadTask : public Task {
 public:
  std::string name() const override { return "read"; }
  std::string description() const override;
  int min_difficulty() const override;
  int max_difficulty() const override;
  Example generate(Rng& rng, int difficulty) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

}  // namespace muse

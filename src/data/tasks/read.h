// Read: the number written somewhere in a larger image, among a few distractor shapes.
//
// The image is larger than the first view, which downscales it to fit the 64-patch budget (3:2 -> 72 x 48,
// 4:3 -> 72 x 54, 16:9 -> 80 x 45). Difficulty 1..3 sets the image size, font scale and digit count:
//   1  192 x 128 / 176 x 132 / 208 x 117, scale 4 (5x7 glyphs 20 x 28 px, >= 10 px tall in the view:
//      legible; the 3x5 face at scale 6), 1-3 digits, 2-4 shapes
//   2  288 x 192 / 264 x 198 / 304 x 171, scale 2 (10 x 14 px, under 4 px in the view: a smudge; 3x5 at 3),
//      2-4 digits, 3-5 shapes
//   3  the same sizes, scale 1 (5 x 7 px, under 2 x 2 in the view; 3x5 at 1), 3-6 digits, 4-6 shapes
// The number is uniform over those with that many digits (one digit: 0..9), drawn in a shade (+-20 per
// channel) of black, blue, purple, red or green anywhere with a 4-pixel margin; the shapes (radius 3..10, any
// colour but white/black, shaded +-24) never come within 3 pixels of it. At 2 and 3 the digits are only
// legible in a full-resolution crop of meta["bbox"] (what a zoom tool shows; the box always fits one view
// unscaled).
// Style space (render/style.h): background white/cream/lightgray/rose/sky; anti-aliased shapes on/off; the
// face classic 5x7, bold 5x7 or small 3x5; the image size/aspect above.
// HELD-OUT style (Surface::Heldout only; training rejects it): the sky background with anti-aliasing and the
// small 3x5 face.
//
// Prompt: the image, then a question from read_wordings(): 9 trained ("What number is written?", ...), 4
// held-out ("Tell me the number written in the picture.", ...). Reasoning: where the text is, as the first and
// last patch cell (row, col) of the first view that its box touches (what the model can point at before
// zooming), its digits one by one, then the number:   at r2c3-r2c5: 4 7 1 =471
// From difficulty 2 (kZoomFromDifficulty) the trace zooms into those cells before reading them:
//   at r2c3-r2c5<|tool_call|>zoom {"bbox_2d":[3,2,5,2],"unit":"patch"}<|/tool_call|><|tool_result|>(the crop,
//   magnified to one view)<|/tool_result|>: 4 7 1 =471
// Answer: the number in decimal. verify(): 1.0 for exactly that string after trimming, else 0.
// meta: {"number": "471", "bbox": [x0, y0, x1, y1] (original pixels, end exclusive),
//        "view_cells": [row0, col0, row1, col1] (first-view patch cells, inclusive), "scale": s,
//        "font": "classic"|"bold"|"small", "color": "blue", "rgb": [r, g, b], "width", "height",
//        "view": [vw, vh], "shapes": [{"shape", "x", "y", "radius", "color", "rgb"}, ...],
//        "style": {"background", "antialias", "font", "heldout"}}
#pragma once
#include <string>

#include "data/task.h"

namespace muse {

inline constexpr int kZoomFromDifficulty = 2;  // read traces zoom from this difficulty on

class ReadTask : public Task {
 public:
  std::string name() const override { return "read"; }
  std::string description() const override;
  int min_difficulty() const override;
  int max_difficulty() const override;
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

// The question templates (no slots); validated on first use.
const WordingPool& read_wordings();

}  // namespace muse

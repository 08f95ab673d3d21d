// Count: how many shapes of a given colour and/or kind a rendered scene holds.
//
// The scene is W x H pixels (a long side and an aspect ratio per difficulty, either orientation), larger than
// the model's first view from difficulty 2 on (view_size() in patches.h downscales it to fit 64 patches of
// 8 x 8). Filled shapes (square, circle, triangle) in six colours (red green blue yellow purple orange) are
// placed freely (centres and radii on a quarter-pixel grid, anywhere): no two centres fall into one patch of
// the FIRST VIEW, and any two shapes keep (r1 + r2) * 1.42 + max(2, 2 / scale) pixels between centres, so
// they stay separate after the downscale. Radii are drawn in view pixels (so a shape keeps its size in what
// the model sees) and converted to image pixels.
// Difficulty 1..4 (long side px; max aspect; radius in view px; targets; distractors):
//   1  56..104, 4:3, 3.5..4.5; every shape the same kind; 1-3 targets, 1-3 distractors in other colours
//   2  64..128, 3:2, 3.0..4.5; mixed kinds; 1-5 targets, 1-5 distractors, all in other colours
//   3  80..160, 3:2, 2.75..4.0; 0-7 targets, 2-7 distractors: a third share the asked colour (other kind), a
//      third the asked kind (other colour), so both attributes matter
//   4  96..192, 7:4, 2.5..3.5; 0-9 targets, 3-9 distractors as at 3; one question in five asks for a colour
//      only ("How many red shapes?"), one in five a kind only
// Style space (render/style.h): background white/cream/lightgray/rose/sky; anti-aliasing on or off (16-sample
// supersampled shapes); each shape a shade of its colour (every channel +-16 at 1, +-24 at 2-3, +-28 at 4).
// HELD-OUT style (Surface::Heldout only; training rejects it): the sky background WITH anti-aliasing.
//
// Prompt: the image, then a question from count_wordings() with {what} = "red circles" / "red shapes" /
// "circles": 9 trained templates ("How many red circles?", "Count the red circles.", ...), 5 held-out ones
// ("What is the number of red circles in the picture?", ...).
// Reasoning: the FIRST-VIEW patch (row, col) holding each matching shape's centre, in raster order, then the
// count:   r0c2 r1c1 r3c0 =3   (none: "=0"; at most 9 cells, under 50 characters). Answer: the count in
// decimal. verify(): 1.0 for exactly that number (after trimming), else 0.
// meta: {"width", "height", "view": [vw, vh], "cell": 8 (view patch), "color": "red"|"any",
//        "shape": "circle"|"any", "what": "red circles", "count": n,
//        "objects": [{"row", "col", "x", "y", "radius", "shape", "color", "rgb"}, ...]  (view-patch raster
//        order; x, y = centre and radius in image pixels; row, col = its first-view patch),
//        "style": {"background", "antialias", "heldout", "shade_spread"}}
#pragma once
#include <string>

#include "data/task.h"

namespace muse {

class CountTask : public Task {
 public:
  std::string name() const override { return "count"; }
  std::string description() const override;
  int min_difficulty() const override;
  int max_difficulty() const override;
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

// The question templates ({what}); validated on first use.
const WordingPool& count_wordings();

}  // namespace muse

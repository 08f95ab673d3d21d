// Count: how many shapes of a given colour and/or kind a rendered scene holds.
//
// The scene is a k x k grid of 8 x 8-pixel cells (one cell = one image patch, so the image, 8k x 8k pixels,
// always fits the first view without downscaling) on a white background. Each cell holds at most one filled
// shape (square, circle or triangle) in one of six colours (red green blue yellow purple orange).
// Difficulty 1..4:
//   1  5x5 cells; every shape the same kind; 1-3 targets, 1-3 distractors in other colours (colour decides).
//   2  6x6 cells; mixed kinds; 1-5 targets, 1-5 distractors, all in other colours.
//   3  8x8 cells; 0-7 targets, 2-7 distractors: a third share the asked colour (other kind), a third the asked
//      kind (other colour), so both attributes matter.
//   4  8x8 cells; 0-9 targets, 3-9 distractors as at 3; shapes radius 2 or 3, jittered inside their cell; one
//      question in five asks for a colour only ("How many red shapes?"), one in five a kind only.
// At 1..3 every shape has radius 3 (a 7 x 7 box) with its centre at pixel (3, 3) of its cell.
//
// Prompt: the image, then "How many red circles?" / "How many red shapes?" / "How many circles?".
// Reasoning: the matching cells in raster order, then the count:   r0c2 r1c1 r3c0 =3   (none: "=0"; at most
// 9 cells, under 50 characters). Answer: the count in decimal. verify(): 1.0 for exactly that number (after
// trimming), else 0.
// meta: {"grid": k, "cell": 8, "color": "red"|"any", "shape": "circle"|"any", "count": n,
//        "objects": [{"row", "col", "x", "y", "radius", "shape", "color"}, ...]}   (raster order; x, y = centre)
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
  Example generate(Rng& rng, int difficulty) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

}  // namespace muse

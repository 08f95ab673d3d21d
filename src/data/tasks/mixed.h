// Questions that need two modalities: a chart image read together with a table, or a number read from an
// image and used in arithmetic. Each problem is one of two kinds, with even odds.
//
// "cost": a bar chart (the "chart" task's layout, data/tasks/chart.h) shows how many of each item A, B, ...
// there are (1..9), and a table segment with columns item,price gives each item's price (1..9, one row per
// item). Prompt: [chart image] [table] "How much do the B items cost in total?" (difficulty 2 also asks
// "How much do the B and D items cost in total?"), worded from mixed_wordings(CostOne / CostTwo). Trace: read the chart, look the price(s) up, multiply, and
// for two items add the products column by column as the "add" task does (data/tasks/arithmetic.h):
//   one item    "B4|price B3|4*3=12"                                            answer "12"
//   two items   "B4 D7|price B3 D5|4*3=12|7*5=35|2+5+0=07|1+3+0=04|=47"         answer "47"
//
// "number": a number drawn large (the 5x7 font at scale 2, each digit a 10x14 glyph alone in a 2x2 block of
// 8-pixel patches: digit i's glyph starts at (x + 16i + 3, y + 1), x and y multiples of 8) in a random dark
// colour on a white 64x32 image (32 patches). Prompt: [image] "Add 27 to the number in the image." /
// "Subtract 27 from the number in the image." (never below zero) / "Multiply the number in the image by 7.",
// worded from mixed_wordings(Add / Sub / Mul).
//
// Wordings: each of the five pools has 8 trained templates and a disjoint held-out pool of 4; generate() words
// from the surface's part. Templates keep asked labels between spaces (" B ") and hold no digits but the
// operand's.
// Trace: the number read, '|', then the "add"/"sub"/"mul" task's trace for that operation:
//   "48|8+7+0=15|4+2+1=07|=75"   answer "75"
//
// Difficulty: 1 = cost of one item of 3-4, table rows in chart order; number 1..99 plus or minus 1..99.
// 2 = 4-6 items, table rows shuffled, cost of one or (2 in 3) two items; number 100..999 plus or minus
// 1..999, or 10..99 times 2..9.
// verify(): 1.0 when the trimmed answer is exactly the reference integer, recomputed from meta.
// meta: {"kind": "cost", "labels", "values" (quantities), "colors", "prices" (per label, chart order),
//        "items": [asked labels]}  or  {"kind": "number", "number", "op": "+"|"-"|"*", "operand", "x", "y",
//        "color"}.
#pragma once
#include <string>

#include "data/surface.h"
#include "data/task.h"

namespace muse {

enum class MixedWording { CostOne, CostTwo, Add, Sub, Mul };
// Slots: {item} (CostOne), {a} and {b} (CostTwo), {n} the operand (Add, Sub, Mul).
const WordingPool& mixed_wordings(MixedWording which);

class MixedTask : public Task {
 public:
  std::string name() const override { return "mixed"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 2; }
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

}  // namespace muse

// Bar and line charts: which bar is largest, the value of a bar, the difference of two bars.
//
// The image is laid out on the model's 8-pixel patch grid so that it is read at full resolution (never
// downscaled): one patch column per value (labelled A, B, C, ... left to right), 64 pixels tall, so a chart
// of n values is 8n x 64 pixels = 8n patches (n <= 7 keeps it within the 64-patch view). Values are integers
// 1..12 and one value unit is 4 pixels: the bar of value v fills rows [56 - 4v, 56) of its column (pixel
// columns [8c + 1, 8c + 7)), so its top pixel row is 56 - 4v and a bar top always falls on row 0 or 4 of a
// patch. Light gray gridlines mark every unit (rows 56 - 4k); a black axis at row 56 and the labels in the
// 5x7 font (rows 57..63) fill the bottom patch row. Bars take a random colour each. A line chart (difficulty
// 3) draws its points as black 4x4 markers filling columns [8c + 2, 8c + 6) and rows [56 - 4v, 60 - 4v)
// (top row 56 - 4v, as a bar), joined by a line in a random colour.
//
// Difficulty: 1 = 3-4 bars, "largest" and "value" questions; 2 = 5-6 bars, adds "difference"; 3 = 5-7
// values as a bar or a line chart (even odds), all three questions. The largest value is always unique.
//
// Prompt: the chart image, then one question:
//   largest     "Which bar is largest?" (line chart: "Which point is highest?")   answer: its letter, "C"
//   value       "What is the value of C?"                                          answer: "7"
//   difference  "What is B minus D?"                                               answer: "-2" (may be negative)
// Trace: the values it needs, read as <letter><value>, then the step after a '|':
//   largest     "A5 B2 C7 D4|max C7"   (every value, left to right)
//   value       "C7"
//   difference  "B2 D4|2-4=-2"         (the two values in the question's order)
// verify(): 1.0 when the trimmed answer equals the reference (letters case-insensitive), recomputed from meta.
// meta: {"chart": "bar"|"line", "labels": ["A",...], "values": [...], "colors": [colour names] (one per bar;
// a line chart has one, its line's), "question": "largest"|"value"|"difference", "a": letter (value and
// difference), "b": letter (difference)}.
#pragma once
#include <string>
#include <vector>

#include "data/render/canvas.h"
#include "data/task.h"

namespace muse {

class ChartTask : public Task {
 public:
  std::string name() const override { return "chart"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  Example generate(Rng& rng, int difficulty) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

// The chart geometry above, shared with the "mixed" task.
enum class ChartStyle { Bar, Line };
constexpr int kChartUnitPixels = 4;   // pixels per value unit
constexpr int kChartBaseline = 56;    // the axis row; a value v reaches up to row kChartBaseline - 4v
constexpr int kChartMaxValue = 12;
constexpr int kChartMaxValues = 7;
constexpr int kChartHeight = 64;
constexpr int kChartColumnPixels = 8;  // one patch column per value

// The letter of the value at `index` (0 -> "A").
std::string chart_label(int index);
// Renders a chart of 1..kChartMaxValues values in 0..kChartMaxValue. Bar charts take one colour per value;
// line charts take one colour, the line's. Throws MuseError on out-of-range input.
Image render_chart(const std::vector<int>& values, ChartStyle style, const std::vector<Color>& colors);

}  // namespace muse

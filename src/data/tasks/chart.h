// Bar and line charts: which bar is largest, the value of a bar, the difference of two bars.
//
// ChartTask draws every chart in a sampled look (ChartLook below) on a value scale 0..12: one slot of `slot`
// pixels per value (labelled A, B, C, ... left to right), bars `bar_width` wide centred in their slots, one
// value unit = `unit` pixels (a quarter-pixel multiple), so the bar of value v spans rows
// [baseline - v * unit, baseline) exactly (coverage-blended at its fractional top when anti-aliased).
// The image is usually larger than the model's first view and is read after its downscale.
// Style space per chart (render/style.h for background / anti-aliasing / font):
//   slot px 12..20 (difficulty 1), 10..16 (2), 9..16 (3); bar width 45..85% of the slot;
//   unit px 3..5 (1), 2.5..5 (2), 2..5 (3), redrawn until the first view keeps >= 3 / 2.5 / 2 view px per unit;
//   gridlines (always at 1, 80% at 2, 60% at 3) every unit at 1, every 1 or 2 at 2, 1..3 at 3, a darker tint of the
//   background; y-axis tick labels (50%) every 2 or 4 units; value labels above bars/points (30%); at least
//   one of gridlines, ticks, value labels is always drawn, so every value is readable;
//   axes on (85%) or off; ink black..dark gray; series colours shaded (+-20 per channel);
//   font classic / bold (scale 1, or 2 30% of the time) or small 3x5 (scale 2); margins, label gap;
//   line charts: line width 1..3, square markers 3..5 px.
// HELD-OUT style (Surface::Heldout only; training rejects it): the sky background with anti-aliasing, labels
// in the small 3x5 font.
//
// Difficulty: 1 = 3-4 bars, "largest" and "value" questions; 2 = 5-6 bars, adds "difference"; 3 = 5-7
// values as a bar or a line chart (even odds), all three questions. The largest value is always unique.
//
// Prompt: the chart image, then one question from chart_wordings(kind): 9 trained and 4 held-out templates
// per kind, e.g.
//   largest     "Which bar is largest?" / "Which point is largest?" ({item})   answer: its letter, "C"
//   value       "What is the value of C?" ({a})                                  answer: "7"
//   difference  "What is B minus D?" ({a}, {b})                                  answer: "-2" (may be negative)
// Trace: the values it needs, read as <letter><value>, then the step after a '|':
//   largest     "A5 B2 C7 D4|max C7"   (every value, left to right)
//   value       "C7"
//   difference  "B2 D4|2-4=-2"         (the two values in the question's order)
// verify(): 1.0 when the trimmed answer equals the reference (letters case-insensitive), recomputed from meta.
// meta: {"chart": "bar"|"line", "labels": ["A",...], "values": [...], "colors": [colour names] (one per bar;
// a line chart has one, its line's), "question": "largest"|"value"|"difference", "a": letter (value and
// difference), "b": letter (difference), "look": chart_look_json(look), "style": {"background",
// "antialias", "font", "heldout"}}.
//
// render_chart(values, style, colors) (no look) is the original fixed layout, kept for the "mixed" task:
// one 8-pixel patch column per value, 64 pixels tall, 4 pixels per unit, axis at row 56, white background.
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
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
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

// A chart's look: geometry and furniture (see the top of this file).
struct ChartLook {
  int slot = 8;                // pixels per value
  int bar_width = 6;           // bar charts: bar width, centred in the slot
  double unit = 4;             // pixels per value unit (12 * unit must be a whole number)
  int top = 8;                 // pixels above the value-12 row
  int left = 0, right = 0;     // margins beside the slots
  int label_gap = 1;           // pixels between the axis row and the labels
  Color background{255, 255, 255};
  Color ink{0, 0, 0};          // axes, labels, markers
  Color grid{220, 220, 220};
  bool axes = true;            // the baseline row and a y axis left of the first slot
  bool gridlines = true;
  int grid_step = 1;           // units between gridlines
  bool ticks = false;          // y-axis value labels every tick_step units
  int tick_step = 4;
  bool value_labels = false;   // each value written above its bar / point
  Font font = Font::Classic;
  int font_scale = 1;
  int samples = 1;             // anti-aliasing sub-samples per axis (1 = off)
  int line_width = 1;          // line charts
  int marker = 4;              // line charts: marker side
  int width(int values) const { return left + slot * values + right; }
  int height() const;
  int baseline() const { return top + static_cast<int>(12 * unit); }  // the axis row
  double bar_left(int index) const { return left + slot * index + (slot - bar_width) / 2.0; }
  double center(int index) const { return left + slot * index + slot / 2.0; }
};
nlohmann::json chart_look_json(const ChartLook& look);
// A chart in that look. Throws MuseError on out-of-range input (as above) or an invalid look.
Image render_chart(const std::vector<int>& values, ChartStyle style, const std::vector<Color>& colors,
                   const ChartLook& look);

// The question templates of one kind ("largest": {item}; "value": {a}; "difference": {a}, {b}).
const WordingPool& chart_wordings(const std::string& kind);

}  // namespace muse

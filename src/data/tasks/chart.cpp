#include "data/tasks/chart.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "data/patches.h"
#include "data/render/style.h"

#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

// Colours for bars and lines: strong hues that stand out from the white background, the light gridlines
// and the black axis, labels and markers.
const std::vector<std::string>& series_colors() {
  static const std::vector<std::string> names = {"red", "green", "blue", "orange", "purple"};
  return names;
}

constexpr Color kGridColor{220, 220, 220};
constexpr Color kInkColor{0, 0, 0};

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

int index_of(const std::vector<std::string>& labels, const std::string& label) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] == label) return static_cast<int>(i);
  throw MuseError("chart: unknown label '" + label + "'");
}

// The reference trace and answer for a question about labelled values.
struct ChartSolution {
  std::string reasoning;
  std::string answer;
};

ChartSolution solve_chart(const std::vector<std::string>& labels, const std::vector<int>& values,
                          const std::string& question, const std::string& a, const std::string& b) {
  if (labels.size() != values.size() || labels.empty()) throw MuseError("chart: labels and values differ");
  if (question == "largest") {
    std::string reading;
    size_t best = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      reading += (i ? " " : "") + labels[i] + to_string(values[i]);
      if (values[i] > values[best]) best = i;
    }
    return {reading + "|max " + labels[best] + to_string(values[best]), labels[best]};
  }
  if (question == "value") {
    const int value = values[index_of(labels, a)];
    return {a + to_string(value), to_string(value)};
  }
  if (question == "difference") {
    const int x = values[index_of(labels, a)], y = values[index_of(labels, b)];
    return {a + to_string(x) + " " + b + to_string(y) + "|" + to_string(x) + "-" + to_string(y) + "=" + to_string(x - y),
            to_string(x - y)};
  }
  throw MuseError("chart: unknown question '" + question + "'");
}

double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * rng.uniform(); }

Color darker(Color c, int by) {
  auto d = [&](uint8_t v) { return static_cast<uint8_t>(std::max(0, v - by)); };
  return {d(c.r), d(c.g), d(c.b)};
}

// A look for a chart of n values at this difficulty in `style`; redrawn until the first view keeps enough
// pixels per value unit.
ChartLook sample_look(Rng& rng, int difficulty, int n, const RenderStyle& style) {
  static const int slot_lo[] = {12, 10, 9}, slot_hi[] = {20, 16, 16};
  static const double unit_lo[] = {3.0, 2.5, 2.0}, min_view_unit[] = {3.0, 2.5, 2.0};
  static const double gridline_p[] = {1.0, 0.8, 0.6};
  const int d = difficulty - 1;
  const VisionParams vision;
  for (;;) {
    ChartLook look;
    look.background = style.background_color();
    look.samples = style.samples();
    look.font = style.font;
    look.font_scale = style.font == Font::Small ? 2 : rng.bernoulli(0.3) ? 2 : 1;
    look.value_labels = rng.bernoulli(0.3);
    look.slot = static_cast<int>(rng.uniform_int(slot_lo[d], slot_hi[d]));
    // Value labels widen their slots: a label wider than its slot would run over the neighbouring bar.
    if (look.value_labels)
      look.slot = std::max(look.slot, Canvas::text_width(to_string(kChartMaxValue), look.font_scale, look.font) + 2);
    look.bar_width = std::max(3, static_cast<int>(std::lround(look.slot * uniform(rng, 0.45, 0.85))));
    look.unit = std::round(uniform(rng, unit_lo[d], 5.0) * 4) / 4;
    look.gridlines = rng.bernoulli(gridline_p[d]);
    look.grid_step = difficulty == 1 ? 1 : static_cast<int>(rng.uniform_int(1, difficulty == 3 ? 3 : 2));
    look.ticks = rng.bernoulli(0.5);
    look.tick_step = rng.bernoulli(0.5) ? 2 : 4;
    if (!look.gridlines && !look.ticks && !look.value_labels) look.gridlines = true;
    look.axes = rng.bernoulli(0.85);
    const int gray = static_cast<int>(rng.uniform_int(0, 60));
    look.ink = {static_cast<uint8_t>(gray), static_cast<uint8_t>(gray), static_cast<uint8_t>(gray)};
    look.grid = darker(look.background, static_cast<int>(rng.uniform_int(25, 45)));
    look.line_width = static_cast<int>(rng.uniform_int(1, 3));
    look.marker = static_cast<int>(rng.uniform_int(3, 5));
    const int text_h = Canvas::text_height(look.font_scale, look.font);
    look.top = static_cast<int>(rng.uniform_int(3, 8)) + (look.value_labels ? text_h + 2 : 0) +
               (look.ticks ? text_h / 2 : 0);
    look.left = static_cast<int>(rng.uniform_int(2, 8)) +
                (look.ticks ? Canvas::text_width("12", look.font_scale, look.font) + 3 : 0);
    look.right = static_cast<int>(rng.uniform_int(2, 8));
    look.label_gap = static_cast<int>(rng.uniform_int(2, 4));
    int view_w = 0, view_h = 0;
    view_size(look.width(n), look.height(), vision, &view_w, &view_h);
    if (look.unit * view_w / look.width(n) >= min_view_unit[d]) return look;
  }
}

}  // namespace

const WordingPool& chart_wordings(const std::string& kind) {
  static const WordingPool largest = [] {
    WordingPool p{{"Which {item} is largest?", "Which {item} is the largest?", "Which {item} has the largest value?",
                   "Which {item} is highest?", "Which {item} is biggest?", "Name the largest {item}.",
                   "Largest {item}?", "which {item} is largest", "Which {item} has the most?"},
                  {"Which {item} shows the greatest value?", "Tell me the letter of the top {item}.",
                   "Of all the {item}s, which one is largest?", "Find the {item} with the biggest value."}};
    validate_wordings("chart largest", p);
    return p;
  }();
  static const WordingPool value = [] {
    WordingPool p{{"What is the value of {a}?", "Value of {a}?", "What value does {a} have?", "How much is {a}?",
                   "What is {a}?", "Read the value of {a}.", "what is the value of {a}", "Give the value of {a}.",
                   "{a} is how much?"},
                  {"Tell me the number that {a} shows.", "How high does {a} reach on the chart?",
                   "Which number is {a} at?", "Report the value for {a}."}};
    validate_wordings("chart value", p);
    return p;
  }();
  static const WordingPool difference = [] {
    WordingPool p{{"What is {a} minus {b}?", "{a} minus {b}?", "What is {a} - {b}?", "Compute {a} minus {b}.",
                   "How much is {a} minus {b}?", "Subtract {b} from {a}.", "what is {a} minus {b}",
                   "Give {a} minus {b}.", "Value of {a} minus value of {b}?"},
                  {"By how much does {a} exceed {b}?", "Take {b} away from {a}: what is left?",
                   "Find the difference {a} minus {b}.", "Tell me {a} minus {b}."}};
    validate_wordings("chart difference", p);
    return p;
  }();
  if (kind == "largest") return largest;
  if (kind == "value") return value;
  if (kind == "difference") return difference;
  throw MuseError("chart: unknown question kind '" + kind + "'");
}

int ChartLook::height() const {
  return baseline() + 1 + label_gap + Canvas::text_height(font_scale, font) + 2;
}

nlohmann::json chart_look_json(const ChartLook& look) {
  return {{"slot", look.slot},           {"bar_width", look.bar_width},   {"unit", look.unit},
          {"top", look.top},             {"left", look.left},             {"right", look.right},
          {"baseline", look.baseline()}, {"label_gap", look.label_gap},   {"background", color_json(look.background)},
          {"ink", color_json(look.ink)}, {"grid", color_json(look.grid)}, {"axes", look.axes},
          {"gridlines", look.gridlines}, {"grid_step", look.grid_step},   {"ticks", look.ticks},
          {"tick_step", look.tick_step}, {"value_labels", look.value_labels}, {"font", font_name(look.font)},
          {"font_scale", look.font_scale}, {"samples", look.samples},     {"line_width", look.line_width},
          {"marker", look.marker}};
}

Image render_chart(const std::vector<int>& values, ChartStyle style, const std::vector<Color>& colors,
                   const ChartLook& look) {
  const int n = static_cast<int>(values.size());
  if (n < 1 || n > kChartMaxValues) throw MuseError("chart: " + to_string(n) + " values (1.." + to_string(kChartMaxValues) + ")");
  for (int v : values)
    if (v < 0 || v > kChartMaxValue) throw MuseError("chart: value " + to_string(v) + " outside 0.." + to_string(kChartMaxValue));
  if (colors.size() != (style == ChartStyle::Bar ? values.size() : 1u)) throw MuseError("chart: wrong number of colours");
  if (look.slot < 3 || look.bar_width < 1 || look.bar_width > look.slot || look.unit <= 0 ||
      std::abs(12 * look.unit - std::round(12 * look.unit)) > 1e-9 || look.top < 0 || look.left < 0 ||
      look.right < 0 || look.label_gap < 0 || look.samples < 1 || look.line_width < 1 || look.marker < 1 ||
      look.grid_step < 1 || look.tick_step < 1 || look.font_scale < 1)
    throw MuseError("chart: invalid look");

  const int width = look.width(n), height = look.height(), base = look.baseline();
  Canvas canvas(width, height, look.background);
  const int s = look.samples;
  auto top = [&](int value) { return base - look.unit * value; };
  const int plot_x0 = look.left, plot_x1 = look.left + look.slot * n;
  if (look.gridlines)
    for (int unit = look.grid_step; unit <= kChartMaxValue; unit += look.grid_step)
      canvas.fill_rect_f(plot_x0, top(unit), plot_x1, top(unit) + 1, look.grid, s);
  if (look.axes) {
    canvas.fill_rect(plot_x0, base, plot_x1, base + 1, look.ink);
    canvas.fill_rect(plot_x0 - 1, look.top, plot_x0, base + 1, look.ink);
  }
  const int text_h = Canvas::text_height(look.font_scale, look.font);
  if (look.ticks)
    for (int unit = 0; unit <= kChartMaxValue; unit += look.tick_step) {
      const std::string text = to_string(unit);
      const int w = Canvas::text_width(text, look.font_scale, look.font);
      const int y = static_cast<int>(std::lround(top(unit) - text_h / 2.0));
      canvas.draw_text(plot_x0 - 3 - w, y, text, look.ink, look.font_scale, look.font);
    }
  if (style == ChartStyle::Bar) {
    for (int c = 0; c < n; ++c)
      canvas.fill_rect_f(look.bar_left(c), top(values[c]), look.bar_left(c) + look.bar_width, base, colors[c], s);
  } else {
    for (int c = 0; c + 1 < n; ++c)
      canvas.draw_line_f(look.center(c), top(values[c]), look.center(c + 1), top(values[c + 1]), look.line_width,
                         colors[0], s);
    const double half = look.marker / 2.0;
    for (int c = 0; c < n; ++c)
      canvas.fill_rect_f(look.center(c) - half, top(values[c]) - half, look.center(c) + half, top(values[c]) + half,
                         look.ink, s);
  }
  if (look.value_labels)
    for (int c = 0; c < n; ++c) {
      const std::string text = to_string(values[c]);
      const int w = Canvas::text_width(text, look.font_scale, look.font);
      const double above = style == ChartStyle::Bar ? 2 : look.marker / 2.0 + 2;
      canvas.draw_text(static_cast<int>(std::lround(look.center(c) - w / 2.0)),
                       static_cast<int>(std::floor(top(values[c]) - above)) - text_h, text, look.ink,
                       look.font_scale, look.font);
    }
  for (int c = 0; c < n; ++c) {
    const std::string label = chart_label(c);
    const int w = Canvas::text_width(label, look.font_scale, look.font);
    canvas.draw_text(static_cast<int>(std::lround(look.center(c) - w / 2.0)), base + 1 + look.label_gap, label,
                     look.ink, look.font_scale, look.font);
  }
  return canvas.take();
}

std::string chart_label(int index) { return std::string(1, static_cast<char>('A' + index)); }

Image render_chart(const std::vector<int>& values, ChartStyle style, const std::vector<Color>& colors) {
  const int n = static_cast<int>(values.size());
  if (n < 1 || n > kChartMaxValues) throw MuseError("chart: " + to_string(n) + " values (1.." + to_string(kChartMaxValues) + ")");
  for (int v : values)
    if (v < 0 || v > kChartMaxValue) throw MuseError("chart: value " + to_string(v) + " outside 0.." + to_string(kChartMaxValue));
  if (colors.size() != (style == ChartStyle::Bar ? values.size() : 1u)) throw MuseError("chart: wrong number of colours");

  const int width = kChartColumnPixels * n;
  Canvas canvas(width, kChartHeight);
  for (int unit = 1; unit <= kChartMaxValue; ++unit) {
    const int y = kChartBaseline - kChartUnitPixels * unit;
    canvas.fill_rect(0, y, width, y + 1, kGridColor);
  }
  canvas.fill_rect(0, kChartBaseline, width, kChartBaseline + 1, kInkColor);

  auto top = [](int value) { return kChartBaseline - kChartUnitPixels * value; };
  if (style == ChartStyle::Bar) {
    for (int c = 0; c < n; ++c)
      canvas.fill_rect(kChartColumnPixels * c + 1, top(values[c]), kChartColumnPixels * c + 7, kChartBaseline, colors[c]);
  } else {
    // The line joins the markers' centres; markers are drawn last so each one's top row is exactly its value.
    for (int c = 0; c + 1 < n; ++c)
      canvas.draw_line(kChartColumnPixels * c + 4, top(values[c]) + 2, kChartColumnPixels * (c + 1) + 4,
                       top(values[c + 1]) + 2, colors[0], 1);
    for (int c = 0; c < n; ++c)
      canvas.fill_rect(kChartColumnPixels * c + 2, top(values[c]), kChartColumnPixels * c + 6, top(values[c]) + 4,
                       kInkColor);
    // A marker of value 0 would cover the axis; redraw the axis so the baseline stays unbroken.
    canvas.fill_rect(0, kChartBaseline, width, kChartBaseline + 1, kInkColor);
  }
  for (int c = 0; c < n; ++c) canvas.draw_text(kChartColumnPixels * c + 2, kChartBaseline + 1, chart_label(c), kInkColor);
  return canvas.take();
}

std::string ChartTask::description() const {
  return "read a bar or line chart image: largest bar, a bar's value, or the difference of two; "
         "difficulty = bars and question kinds (3 adds line charts)";
}

Example ChartTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  int n = 3;
  switch (difficulty) {
    case 1: n = static_cast<int>(rng.uniform_int(3, 4)); break;
    case 2: n = static_cast<int>(rng.uniform_int(5, 6)); break;
    default: n = static_cast<int>(rng.uniform_int(5, kChartMaxValues)); break;
  }
  const ChartStyle style = difficulty == 3 && rng.bernoulli(0.5) ? ChartStyle::Line : ChartStyle::Bar;
  const int kinds = difficulty == 1 ? 2 : 3;
  const std::string question = std::vector<std::string>{"largest", "value", "difference"}[rng.uniform_int(0, kinds - 1)];

  std::vector<int> values(static_cast<size_t>(n));
  for (;;) {  // redrawn until the largest value is unique, so "largest" always has one answer
    for (int& v : values) v = static_cast<int>(rng.uniform_int(1, kChartMaxValue));
    const int top = *std::max_element(values.begin(), values.end());
    if (std::count(values.begin(), values.end(), top) == 1) break;
  }
  std::vector<std::string> labels, color_names;
  for (int c = 0; c < n; ++c) labels.push_back(chart_label(c));
  const auto& palette = series_colors();
  for (size_t i = 0; i < (style == ChartStyle::Bar ? values.size() : 1u); ++i)
    color_names.push_back(palette[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(palette.size()) - 1))]);

  std::string a, b;
  if (question != "largest") {
    const int i = static_cast<int>(rng.uniform_int(0, n - 1));
    a = labels[static_cast<size_t>(i)];
    if (question == "difference") {
      const int j = (i + 1 + static_cast<int>(rng.uniform_int(0, n - 2))) % n;  // any other bar
      b = labels[static_cast<size_t>(j)];
    }
  }

  const RenderStyle render_style = sample_style(rng, surface);
  const ChartLook look = sample_look(rng, difficulty, n, render_style);
  std::vector<Color> colors;
  nlohmann::json rgb = nlohmann::json::array();
  for (const auto& name : color_names) {
    colors.push_back(shade(rng, color_by_name(name), 20));
    rgb.push_back(color_json(colors.back()));
  }
  ChartSolution solution = solve_chart(labels, values, question, a, b);
  const std::string item = style == ChartStyle::Bar ? "bar" : "point";
  const std::string text = word(chart_wordings(question), surface, rng, {{"item", item}, {"a", a}, {"b", b}});

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {image_segment(render_chart(values, style, colors, look)), text_segment(text)};
  example.reasoning = std::move(solution.reasoning);
  example.answer = std::move(solution.answer);
  example.meta = {{"chart", style == ChartStyle::Bar ? "bar" : "line"},
                  {"labels", labels},
                  {"values", values},
                  {"colors", color_names},
                  {"rgb", std::move(rgb)},
                  {"question", question},
                  {"look", chart_look_json(look)},
                  {"style", render_style.to_json()}};
  if (!a.empty()) example.meta["a"] = a;
  if (!b.empty()) example.meta["b"] = b;
  example.problem_key = "chart " + std::string(style == ChartStyle::Bar ? "bar" : "line") + " " +
                        nlohmann::json(values).dump() + " " + question + " " + a + " " + b;
  return example;
}

double ChartTask::verify(const Example& example, const std::string& answer) const {
  std::string expected;
  try {
    const auto& meta = example.meta;
    expected = solve_chart(meta.at("labels").get<std::vector<std::string>>(), meta.at("values").get<std::vector<int>>(),
                           meta.at("question").get<std::string>(), meta.value("a", std::string()),
                           meta.value("b", std::string()))
                   .answer;
  } catch (const std::exception&) {
    return 0.0;  // malformed meta: nothing can be right
  }
  return lower(trim_answer(answer)) == lower(expected) ? 1.0 : 0.0;
}

}  // namespace muse

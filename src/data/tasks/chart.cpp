#include "data/tasks/chart.h"

#include <algorithm>
#include <cctype>

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

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

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

std::string question_text(const std::string& question, ChartStyle style, const std::string& a, const std::string& b) {
  if (question == "largest") return style == ChartStyle::Bar ? "Which bar is largest?" : "Which point is highest?";
  if (question == "value") return "What is the value of " + a + "?";
  return "What is " + a + " minus " + b + "?";
}

}  // namespace

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

Example ChartTask::generate(Rng& rng, int difficulty) const {
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

  std::vector<Color> colors;
  for (const auto& name : color_names) colors.push_back(color_by_name(name));
  ChartSolution solution = solve_chart(labels, values, question, a, b);

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {image_segment(render_chart(values, style, colors)), text_segment(question_text(question, style, a, b))};
  example.reasoning = std::move(solution.reasoning);
  example.answer = std::move(solution.answer);
  example.meta = {{"chart", style == ChartStyle::Bar ? "bar" : "line"},
                  {"labels", labels},
                  {"values", values},
                  {"colors", color_names},
                  {"question", question}};
  if (!a.empty()) example.meta["a"] = a;
  if (!b.empty()) example.meta["b"] = b;
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
  return lower(trim(answer)) == lower(expected) ? 1.0 : 0.0;
}

}  // namespace muse

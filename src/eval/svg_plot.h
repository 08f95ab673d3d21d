// A small line-chart writer: series of (x, y) points over numeric axes with labelled ticks, a legend, axis
// labels and a title, as one standalone SVG document (no scripts, no external resources, no dependencies).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace muse {

struct PlotSeries {
  std::string name;                               // legend entry
  std::vector<std::pair<double, double>> points;  // (x, y) in data units, drawn in the order given
};

struct PlotTick {
  double value = 0.0;  // position in data units
  std::string label;
};

struct LineChart {
  std::string title, x_label, y_label;
  double x_min = 0.0, x_max = 1.0;  // data range of the plot area (points outside are clamped to it)
  double y_min = 0.0, y_max = 1.0;
  std::vector<PlotTick> x_ticks, y_ticks;  // y ticks also draw horizontal grid lines
  std::vector<PlotSeries> series;
  int width = 760, height = 460;  // pixels of the plot area plus margins; the legend widens the image
};

// Round-numbered ticks (1, 2 or 5 times a power of ten) covering [lo, hi], about `count` of them, and the range
// they span (lo and hi widened to the outer ticks).
std::vector<PlotTick> nice_ticks(double& lo, double& hi, int count = 5);

// Text made safe for SVG/XML character data and attribute values (& < > " ').
std::string xml_escape(const std::string& text);

// The chart as a complete SVG document. One <polyline> per series (plus a circle per point); MuseError if the
// ranges are empty or not finite.
std::string render_line_chart_svg(const LineChart& chart);

}  // namespace muse

#include "eval/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/error.h"

namespace muse {
namespace {

// Ten distinguishable colours (Tableau 10); series beyond them repeat the colours with a dash pattern.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kColorCount = sizeof(kColors) / sizeof(kColors[0]);
constexpr const char* kDashes[] = {"", "6 3", "2 3", "8 3 2 3"};
constexpr int kDashCount = sizeof(kDashes) / sizeof(kDashes[0]);

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::abs(v) < 0.05 ? 0.0 : v);
  return buf;
}

// Rough width of a label in pixels at the given font size (sans-serif averages ~0.6 em per character).
double text_width(const std::string& text, double font_size) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;  // count UTF-8 code points, not bytes
  return 0.6 * font_size * static_cast<double>(chars);
}

std::string style_of(size_t index) {
  std::string out = std::string("stroke=\"") + kColors[index % kColorCount] + "\"";
  const char* dash = kDashes[(index / kColorCount) % kDashCount];
  if (*dash) out += std::string(" stroke-dasharray=\"") + dash + "\"";
  return out;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0 at all.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string render_line_chart_svg(const LineChart& chart) {
  if (!std::isfinite(chart.x_min) || !std::isfinite(chart.x_max) || !(chart.x_max > chart.x_min))
    throw MuseError("line chart: empty or invalid x range [" + num(chart.x_min) + ", " + num(chart.x_max) + "]");
  if (!std::isfinite(chart.y_min) || !std::isfinite(chart.y_max) || !(chart.y_max > chart.y_min))
    throw MuseError("line chart: empty or invalid y range [" + num(chart.y_min) + ", " + num(chart.y_max) + "]");
  if (chart.width < 200 || chart.height < 150)
    throw MuseError("line chart: " + std::to_string(chart.width) + "x" + std::to_string(chart.height) +
                    " is too small (at least 200x150)");

  const double left = 72, right = 24, top = 52, bottom = 64;
  const double plot_w = chart.width - left - right, plot_h = chart.height - top - bottom;
  const double font = 12, line_height = 20;
  double legend_w = 0;
  for (const auto& s : chart.series) legend_w = std::max(legend_w, text_width(s.name, font));
  if (!chart.series.empty()) legend_w += 56;
  const double legend_h = line_height * static_cast<double>(chart.series.size()) + 16;
  const double total_w = chart.width + legend_w;
  const double total_h = std::max<double>(chart.height, top + legend_h + 10);

  auto px = [&](double x) {
    x = std::clamp(x, chart.x_min, chart.x_max);
    return left + (x - chart.x_min) / (chart.x_max - chart.x_min) * plot_w;
  };
  auto py = [&](double y) {
    y = std::clamp(y, chart.y_min, chart.y_max);
    return top + plot_h - (y - chart.y_min) / (chart.y_max - chart.y_min) * plot_h;
  };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(total_w) + "\" height=\"" + num(total_h) +
         "\" viewBox=\"0 0 " + num(total_w) + " " + num(total_h) +
         "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"" + num(font) + "\">\n";
  svg += "<title>" + xml_escape(chart.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + num(total_w) + "\" height=\"" + num(total_h) + "\" fill=\"#ffffff\"/>\n";
  // A long title shrinks (down to 9 px) rather than running off the image.
  const double title_font = std::clamp((total_w - 24) / std::max(1.0, text_width(chart.title, 1.0) * 1.1), 9.0, 16.0);
  svg += "<text x=\"" + num(total_w / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"" + num(title_font) +
         "\" font-weight=\"bold\">" + xml_escape(chart.title) + "</text>\n";

  // Grid and y ticks.
  svg += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (const auto& tick : chart.y_ticks)
    if (tick.value >= chart.y_min && tick.value <= chart.y_max)
      svg += "  <line x1=\"" + num(left) + "\" y1=\"" + num(py(tick.value)) + "\" x2=\"" + num(left + plot_w) +
             "\" y2=\"" + num(py(tick.value)) + "\"/>\n";
  svg += "</g>\n";
  svg += "<g text-anchor=\"end\" fill=\"#333333\">\n";
  for (const auto& tick : chart.y_ticks)
    if (tick.value >= chart.y_min && tick.value <= chart.y_max)
      svg += "  <text x=\"" + num(left - 8) + "\" y=\"" + num(py(tick.value) + 4) + "\">" + xml_escape(tick.label) +
             "</text>\n";
  svg += "</g>\n";
  // X ticks.
  svg += "<g text-anchor=\"middle\" fill=\"#333333\">\n";
  for (const auto& tick : chart.x_ticks)
    if (tick.value >= chart.x_min && tick.value <= chart.x_max) {
      const double x = px(tick.value);
      svg += "  <line x1=\"" + num(x) + "\" y1=\"" + num(top + plot_h) + "\" x2=\"" + num(x) + "\" y2=\"" +
             num(top + plot_h + 5) + "\" stroke=\"#333333\"/>\n";
      svg += "  <text x=\"" + num(x) + "\" y=\"" + num(top + plot_h + 20) + "\">" + xml_escape(tick.label) +
             "</text>\n";
    }
  svg += "</g>\n";
  // Axes and their labels.
  svg += "<g stroke=\"#333333\" stroke-width=\"1.5\">\n";
  svg += "  <line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" +
         num(top + plot_h) + "\"/>\n";
  svg += "  <line x1=\"" + num(left) + "\" y1=\"" + num(top + plot_h) + "\" x2=\"" + num(left + plot_w) + "\" y2=\"" +
         num(top + plot_h) + "\"/>\n";
  svg += "</g>\n";
  svg += "<text x=\"" + num(left + plot_w / 2) + "\" y=\"" + num(top + plot_h + 46) +
         "\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(chart.x_label) + "</text>\n";
  svg += "<text x=\"" + num(18) + "\" y=\"" + num(top + plot_h / 2) + "\" text-anchor=\"middle\" font-size=\"13\" " +
         "transform=\"rotate(-90 18 " + num(top + plot_h / 2) + ")\">" + xml_escape(chart.y_label) + "</text>\n";

  // Series: a polyline each, with a marker per point.
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const auto& s = chart.series[i];
    std::string points;
    std::string markers;
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      points += (points.empty() ? "" : " ") + num(px(x)) + "," + num(py(y));
      markers += "    <circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3.5\" fill=\"" +
                 kColors[i % kColorCount] + "\"/>\n";
    }
    svg += "<g class=\"series\">\n  <title>" + xml_escape(s.name) + "</title>\n";
    svg += "  <polyline fill=\"none\" stroke-width=\"2\" " + style_of(i) + " points=\"" + points + "\"/>\n";
    svg += "  <g>\n" + markers + "  </g>\n</g>\n";
  }

  // Legend, to the right of the plot.
  if (!chart.series.empty()) {
    const double lx = chart.width - right + 16, ly = top;
    svg += "<g class=\"legend\">\n";
    svg += "  <rect x=\"" + num(lx - 8) + "\" y=\"" + num(ly - 4) + "\" width=\"" + num(legend_w - 8) +
           "\" height=\"" + num(legend_h - 8) + "\" fill=\"#ffffff\" stroke=\"#cccccc\"/>\n";
    for (size_t i = 0; i < chart.series.size(); ++i) {
      const double y = ly + 10 + line_height * static_cast<double>(i);
      svg += "  <line x1=\"" + num(lx) + "\" y1=\"" + num(y) + "\" x2=\"" + num(lx + 28) + "\" y2=\"" + num(y) +
             "\" stroke-width=\"2\" " + style_of(i) + "/>\n";
      svg += "  <circle cx=\"" + num(lx + 14) + "\" cy=\"" + num(y) + "\" r=\"3.5\" fill=\"" +
             kColors[i % kColorCount] + "\"/>\n";
      svg += "  <text x=\"" + num(lx + 36) + "\" y=\"" + num(y + 4) + "\">" + xml_escape(chart.series[i].name) +
             "</text>\n";
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::vector<PlotTick> nice_ticks(double& lo, double& hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw MuseError("nice_ticks: range is not finite");
  if (hi <= lo) hi = lo + 1.0;
  const double raw = (hi - lo) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  lo = std::floor(lo / step + 1e-9) * step;
  hi = std::ceil(hi / step - 1e-9) * step;
  std::vector<PlotTick> ticks;
  for (double v = lo; v <= hi + step * 1e-6; v += step) {
    char text[32];
    const double shown = std::fabs(v) < step * 1e-6 ? 0.0 : v;
    std::snprintf(text, sizeof text, step >= 1 ? "%.0f" : step >= 0.1 ? "%.1f" : step >= 0.01 ? "%.2f" : "%.3g", shown);
    ticks.push_back({v, text});
  }
  return ticks;
}

}  // namespace muse

// The SVG line chart: a well-formed standalone document with one polyline per series, escaped text, and every
// point inside the plot area.
#include "eval/svg_plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

using namespace muse;

namespace {

// A loose XML check: tags balance, attribute values are quoted, and text and attribute values hold no raw '<'
// and only well-formed entities. Returns "" when fine, else what is wrong. `names` collects the element names.
std::string xml_problem(const std::string& doc, std::vector<std::string>* names) {
  std::vector<std::string> stack;
  const std::regex entity("&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
  auto check_text = [&](const std::string& text) -> std::string {
    if (text.find('<') != std::string::npos) return "raw '<' in text: " + text;
    for (size_t at = text.find('&'); at != std::string::npos; at = text.find('&', at + 1)) {
      std::smatch m;
      const std::string rest = text.substr(at);
      if (!std::regex_search(rest, m, entity, std::regex_constants::match_continuous))
        return "bad entity in: " + text;
    }
    return "";
  };
  size_t pos = 0;
  bool seen_root = false;
  while (pos < doc.size()) {
    const size_t open = doc.find('<', pos);
    const std::string text = doc.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    if (auto p = check_text(text); !p.empty()) return p;
    if (open == std::string::npos) break;
    if (stack.empty() && seen_root && text.find_first_not_of(" \n") != std::string::npos)
      return "text after the root element";
    const size_t close = doc.find('>', open);
    if (close == std::string::npos) return "unterminated tag";
    std::string tag = doc.substr(open + 1, close - open - 1);
    pos = close + 1;
    if (tag.rfind("?xml", 0) == 0) {
      if (open != 0) return "XML declaration not at the start";
      continue;
    }
    if (tag.rfind("!--", 0) == 0) continue;
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (stack.empty() || stack.back() != name) return "closing </" + name + "> does not match";
      stack.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
    if (name.empty()) return "empty tag name";
    if (stack.empty() && seen_root) return "second root element <" + name + ">";
    seen_root = true;
    if (names) names->push_back(name);
    // Attributes: name="value" pairs, nothing else.
    std::string attrs = tag.substr(name.size());
    const std::regex attr("\\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)=\"([^\"]*)\"");
    std::smatch m;
    while (std::regex_search(attrs, m, attr, std::regex_constants::match_continuous)) {
      if (auto p = check_text(m[2].str()); !p.empty()) return "attribute " + m[1].str() + ": " + p;
      attrs = m.suffix().str();
    }
    if (attrs.find_first_not_of(" \n\t") != std::string::npos) return "malformed attributes in <" + name + ">: " + attrs;
    if (!self_closing) stack.push_back(name);
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (!seen_root) return "no root element";
  return "";
}

size_t count_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::count(names.begin(), names.end(), name));
}

LineChart sample_chart() {
  LineChart c;
  c.title = "Accuracy <vs> budget & \"friends\"";
  c.x_label = "thinking budget";
  c.y_label = "accuracy (%)";
  c.x_min = -0.5;
  c.x_max = 3.5;
  c.y_min = 0;
  c.y_max = 100;
  for (int i = 0; i < 4; ++i) c.x_ticks.push_back({static_cast<double>(i), i == 3 ? "none" : std::to_string(i * 16)});
  for (int y = 0; y <= 100; y += 20) c.y_ticks.push_back({static_cast<double>(y), std::to_string(y) + "%"});
  c.series.push_back({"add@2", {{0, 10}, {1, 55}, {2, 90}, {3, 96}}});
  c.series.push_back({"count@1 <b>&'x'", {{0, 5}, {1, 30}, {2, 140}}});  // 140 is clamped to the top
  c.series.push_back({"one point", {{3, 50}}});
  return c;
}

}  // namespace

TEST(SvgPlot, XmlEscape) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  EXPECT_EQ(xml_escape("plain text 50%"), "plain text 50%");
  EXPECT_EQ(xml_escape(std::string("bell\x07", 5)), "bell ");  // not allowed in XML at all
}

TEST(SvgPlot, WellFormedWithOnePolylinePerSeries) {
  const auto svg = render_line_chart_svg(sample_chart());
  std::vector<std::string> names;
  EXPECT_EQ(xml_problem(svg, &names), "") << svg;
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "svg");
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_NE(svg.find("viewBox=\"0 0 "), std::string::npos);
  EXPECT_EQ(count_of(names, "polyline"), 3u);
  EXPECT_EQ(count_of(names, "path"), 0u);
  EXPECT_EQ(count_of(names, "script"), 0u);
  // Escaped text, never raw: the title, and a series name in the legend.
  EXPECT_NE(svg.find("Accuracy &lt;vs&gt; budget &amp; &quot;friends&quot;"), std::string::npos);
  EXPECT_NE(svg.find("count@1 &lt;b&gt;&amp;&apos;x&apos;"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  // Axis labels, tick labels and legend entries are there.
  for (const char* text : {">thinking budget<", ">accuracy (%)<", ">none<", ">16<", ">100%<", ">0%<", ">add@2<",
                           ">one point<"})
    EXPECT_NE(svg.find(text), std::string::npos) << text;
}

TEST(SvgPlot, PointsStayInsideTheImage) {
  const auto chart = sample_chart();
  const auto svg = render_line_chart_svg(chart);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("viewBox=\"0 0 ([0-9.]+) ([0-9.]+)\"")));
  const double w = std::stod(m[1]), h = std::stod(m[2]);
  EXPECT_GE(w, chart.width);  // the legend widens the image
  const std::regex points_attr("points=\"([^\"]*)\"");
  int polylines = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), points_attr); it != std::sregex_iterator(); ++it) {
    ++polylines;
    std::stringstream in((*it)[1].str());
    std::string pair;
    while (in >> pair) {
      const auto comma = pair.find(',');
      ASSERT_NE(comma, std::string::npos);
      const double x = std::stod(pair.substr(0, comma)), y = std::stod(pair.substr(comma + 1));
      EXPECT_GT(x, 0);
      EXPECT_LT(x, w);
      EXPECT_GT(y, 0);
      EXPECT_LT(y, h);
    }
  }
  EXPECT_EQ(polylines, 3);
}

TEST(SvgPlot, ManySeriesAndEmptyChart) {
  LineChart many = sample_chart();
  many.series.clear();
  for (int i = 0; i < 25; ++i) many.series.push_back({"series " + std::to_string(i), {{0, i * 4.0}, {1, i * 3.0}}});
  std::vector<std::string> names;
  const auto svg = render_line_chart_svg(many);
  EXPECT_EQ(xml_problem(svg, &names), "");
  EXPECT_EQ(count_of(names, "polyline"), 25u);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // colours repeat with dashes
  LineChart empty = sample_chart();
  empty.series.clear();
  names.clear();
  EXPECT_EQ(xml_problem(render_line_chart_svg(empty), &names), "");
  EXPECT_EQ(count_of(names, "polyline"), 0u);
}

TEST(SvgPlot, RejectsEmptyRanges) {
  LineChart c = sample_chart();
  c.x_max = c.x_min;
  EXPECT_THROW(render_line_chart_svg(c), MuseError);
  c = sample_chart();
  c.y_max = std::nan("");
  EXPECT_THROW(render_line_chart_svg(c), MuseError);
}

TEST(SvgPlot, NiceTicksAreRoundAndCoverTheRange) {
  double lo = 0.03, hi = 0.87;
  auto ticks = nice_ticks(lo, hi, 5);
  EXPECT_DOUBLE_EQ(lo, 0.0);
  EXPECT_NEAR(hi, 1.0, 1e-12);
  ASSERT_EQ(ticks.size(), 6u);
  EXPECT_EQ(ticks[1].label, "0.2");
  lo = 0, hi = 83;
  ticks = nice_ticks(lo, hi, 8);
  EXPECT_DOUBLE_EQ(hi, 100.0);  // 83/8 rounds up to steps of 20
  EXPECT_EQ(ticks.back().label, "100");
  EXPECT_EQ(ticks.size(), 6u);
  lo = 5, hi = 5;  // an empty range still gets an axis
  EXPECT_FALSE(nice_ticks(lo, hi).empty());
  EXPECT_GT(hi, lo);
  lo = 0, hi = std::nan("");
  EXPECT_THROW(nice_ticks(lo, hi), MuseError);
}

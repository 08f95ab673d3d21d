#include "data/tasks/read.h"

#include <algorithm>
#include <vector>

#include "data/patches.h"
#include "data/render/canvas.h"
#include "data/render/style.h"
#include "util/error.h"

namespace muse {

namespace {

constexpr int kMargin = 4;      // the text keeps this far from the image edge
constexpr int kClearance = 3;   // shapes keep this far from the text's box
constexpr int kShapeTries = 50; // placements tried per shape before it is left out
const char* const kInkColors[] = {"black", "blue", "purple", "red", "green"};
const char* const kShapeColors[] = {"red", "green", "blue", "yellow", "purple", "orange", "gray"};
constexpr Shape kShapes[] = {Shape::Square, Shape::Circle, Shape::Triangle};

struct Level {
  int sizes[3][2];    // width x height: 3:2, 4:3, 16:9
  int scale;          // 5x7 faces; the 3x5 face uses small_scale
  int small_scale;
  int min_digits, max_digits;
  int min_shapes, max_shapes;
};

const Level& level(int difficulty) {
  static const Level levels[] = {{{{192, 128}, {176, 132}, {208, 117}}, 4, 6, 1, 3, 2, 4},
                                 {{{288, 192}, {264, 198}, {304, 171}}, 2, 3, 2, 4, 3, 5},
                                 {{{288, 192}, {264, 198}, {304, 171}}, 1, 1, 3, 6, 4, 6}};
  return levels[difficulty - 1];
}

template <typename T, size_t N>
const T& pick(Rng& rng, const T (&options)[N]) {
  return options[rng.uniform_int(0, static_cast<int64_t>(N) - 1)];
}

// Uniform over the numbers with exactly `digits` digits; 0 counts as a 1-digit number.
std::string random_number(Rng& rng, int digits) {
  if (digits == 1) return std::to_string(rng.uniform_int(0, 9));
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  return std::to_string(rng.uniform_int(low, low * 10 - 1));
}

struct Box {
  int x0, y0, x1, y1;  // [x0, x1) x [y0, y1)
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
};

}  // namespace

const WordingPool& read_wordings() {
  static const WordingPool pool = [] {
    WordingPool p{{"What number is written?", "What number is shown?", "Read the number.", "What is the number?",
                   "Which number is written here?", "what number is written", "Read the number in the image.",
                   "What number do you see?", "Number?"},
                  {"Tell me the number written in the picture.", "What digits appear in this picture?",
                   "Which value is printed here?", "Say the number you can read."}};
    validate_wordings("read", p);
    return p;
  }();
  return pool;
}

std::string ReadTask::description() const {
  return "read a number written in a larger image; difficulty = smaller font (needs zooming from 2) and more digits";
}

int ReadTask::min_difficulty() const { return 1; }
int ReadTask::max_difficulty() const { return 3; }

Example ReadTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  const Level& lv = level(difficulty);
  const RenderStyle style = sample_style(rng, surface);
  const int* size = lv.sizes[rng.uniform_int(0, 2)];
  const int width = size[0], height = size[1];
  const int scale = style.font == Font::Small ? lv.small_scale : lv.scale;
  const std::string number = random_number(rng, static_cast<int>(rng.uniform_int(lv.min_digits, lv.max_digits)));
  const std::string ink = pick(rng, kInkColors);
  const Color ink_rgb = shade(rng, color_by_name(ink), 20);
  const int text_w = Canvas::text_width(number, scale, style.font), text_h = Canvas::text_height(scale, style.font);
  const int x0 = static_cast<int>(rng.uniform_int(kMargin, width - kMargin - text_w));
  const int y0 = static_cast<int>(rng.uniform_int(kMargin, height - kMargin - text_h));
  const Box text_box{x0, y0, x0 + text_w, y0 + text_h};
  const Box keep_out{text_box.x0 - kClearance, text_box.y0 - kClearance, text_box.x1 + kClearance,
                     text_box.y1 + kClearance};

  Canvas canvas(width, height, style.background_color());
  nlohmann::json shapes = nlohmann::json::array();
  std::vector<Box> taken = {keep_out};
  const int shape_count = static_cast<int>(rng.uniform_int(lv.min_shapes, lv.max_shapes));
  for (int i = 0; i < shape_count; ++i) {
    const Shape shape = pick(rng, kShapes);
    const std::string color = pick(rng, kShapeColors);
    const Color rgb = shade(rng, color_by_name(color), 24);
    const int radius = static_cast<int>(rng.uniform_int(3, 10));
    for (int attempt = 0; attempt < kShapeTries; ++attempt) {
      const int x = static_cast<int>(rng.uniform_int(radius, width - 1 - radius));
      const int y = static_cast<int>(rng.uniform_int(radius, height - 1 - radius));
      const Box box{x - radius, y - radius, x + radius + 1, y + radius + 1};
      if (std::any_of(taken.begin(), taken.end(), [&](const Box& other) { return box.overlaps(other); })) continue;
      taken.push_back(box);
      // Centred on the pixel's middle so the shape fills its (2r + 1)^2 box as the integer shapes do.
      canvas.fill_shape_f(shape, x + 0.5, y + 0.5, radius + 0.5, rgb, style.samples());
      shapes.push_back({{"shape", shape_name(shape)}, {"x", x}, {"y", y}, {"radius", radius}, {"color", color},
                        {"rgb", color_json(rgb)}});
      break;
    }
  }
  canvas.draw_text(x0, y0, number, ink_rgb, scale, style.font);

  // Where the text is, in the patch cells of the first view (what the model can point at before zooming):
  // the rows and columns of 8 x 8 view patches its box touches, first to last.
  const VisionParams vision;  // the default patch size and budget every Muse model uses
  int view_width = 0, view_height = 0;
  view_size(width, height, vision, &view_width, &view_height);
  const auto cell = [&](int pixel, int view, int size) { return pixel * view / size / vision.patch_size; };
  const int row0 = cell(text_box.y0, view_height, height), row1 = cell(text_box.y1 - 1, view_height, height);
  const int col0 = cell(text_box.x0, view_width, width), col1 = cell(text_box.x1 - 1, view_width, width);
  std::string trace = "at r" + std::to_string(row0) + "c" + std::to_string(col0) + "-r" + std::to_string(row1) + "c" +
                      std::to_string(col1);
  // From difficulty 2 the digits are too small for the first view: the trace zooms into those cells (the
  // tool magnifies them to a whole view) and reads the crop.
  std::vector<TraceToolCall> calls;
  if (difficulty >= kZoomFromDifficulty) {
    TraceToolCall zoom;
    zoom.at = trace.size();
    zoom.name = "zoom";
    zoom.arguments = {{"bbox_2d", {col0, row0, col1, row1}}, {"unit", "patch"}};
    calls.push_back(std::move(zoom));
  }
  trace += ":";
  for (char digit : number) trace += std::string(" ") + digit;
  trace += " =" + number;

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {image_segment(canvas.take()), text_segment(word(read_wordings(), surface, rng, {}))};
  example.reasoning = std::move(trace);
  example.tool_calls = std::move(calls);
  example.answer = number;
  example.meta = {{"number", number},
                  {"bbox", {text_box.x0, text_box.y0, text_box.x1, text_box.y1}},
                  {"view_cells", {row0, col0, row1, col1}},
                  {"scale", scale},
                  {"font", font_name(style.font)},
                  {"color", ink},
                  {"rgb", color_json(ink_rgb)},
                  {"width", width},
                  {"height", height},
                  {"view", {view_width, view_height}},
                  {"shapes", std::move(shapes)},
                  {"style", style.to_json()}};
  example.problem_key = "read " + number + " at " + std::to_string(x0) + "," + std::to_string(y0) + " in " +
                        std::to_string(width) + "x" + std::to_string(height);
  return example;
}

double ReadTask::verify(const Example& example, const std::string& answer) const {
  return trim_answer(answer) == example.answer ? 1.0 : 0.0;
}

}  // namespace muse

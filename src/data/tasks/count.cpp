#include "data/tasks/count.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "data/patches.h"
#include "data/render/canvas.h"
#include "data/render/style.h"
#include "util/error.h"

namespace muse {

namespace {

const char* const kColors[] = {"red", "green", "blue", "yellow", "purple", "orange"};
constexpr int kColorCount = 6;
constexpr Shape kShapes[] = {Shape::Square, Shape::Circle, Shape::Triangle};
constexpr int kShapeCount = 3;
constexpr int kPlaceTries = 200;    // placements tried per object before the scene is redrawn
constexpr int kSceneTries = 1000;   // scenes tried before giving up (a handful are needed at most)

struct Level {
  int min_long, max_long;        // the image's long side, pixels
  int max_aspect_pct;            // long / short at most this (percent), drawn from 100..max
  double min_radius, max_radius; // in VIEW pixels (after the first view's downscale)
  int min_targets, max_targets;
  int min_distractors, max_distractors;
  bool mixed_shapes;             // false: every shape is the query's kind
  bool near_misses;              // distractors may share the query's colour or kind
  bool partial_queries;          // colour-only and kind-only questions
  int shade_spread;              // colour shade spread per channel
};

const Level& level(int difficulty) {
  static const Level levels[] = {
      {56, 104, 133, 3.5, 4.5, 1, 3, 1, 3, false, false, false, 16},
      {64, 128, 150, 3.0, 4.5, 1, 5, 1, 5, true, false, false, 24},
      {80, 160, 150, 2.75, 4.0, 0, 7, 2, 7, true, true, false, 24},
      {96, 192, 175, 2.5, 3.5, 0, 9, 3, 9, true, true, true, 28},
  };
  return levels[difficulty - 1];
}

struct Object {
  double x, y, radius;  // image pixels, multiples of 1/4
  int row, col;         // first-view patch holding the centre
  Shape shape;
  int color;            // index into kColors
  Color rgb;            // the drawn shade
};

std::string trim_lower(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  std::string out = text.substr(begin, text.find_last_not_of(space) - begin + 1);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int other_than(Rng& rng, int excluded, int count) {
  const int pick = static_cast<int>(rng.uniform_int(0, count - 2));
  return pick >= excluded ? pick + 1 : pick;
}

double quarter(double v) { return std::round(v * 4) / 4; }
double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * rng.uniform(); }

}  // namespace

const WordingPool& count_wordings() {
  static const WordingPool pool = [] {
    WordingPool p{{"How many {what}?", "Count the {what}.", "How many {what} are there?", "Number of {what}?",
                   "how many {what} do you see", "How many {what} are in the image?", "Count the {what} in the image.",
                   "How many {what} can you see?", "Count all the {what}."},
                  {"What is the number of {what} in the picture?", "Tell me how many {what} the picture shows.",
                   "Give the count of {what}.", "{what}: how many?", "In this picture, how many {what} appear?"}};
    validate_wordings("count", p);
    return p;
  }();
  return pool;
}

std::string CountTask::description() const {
  return "count the shapes of a colour and/or kind in a rendered scene; difficulty = scene size and distractors";
}

int CountTask::min_difficulty() const { return 1; }
int CountTask::max_difficulty() const { return 4; }

Example CountTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  const Level& lv = level(difficulty);
  const RenderStyle style = sample_style(rng, surface);

  // The query: a colour and a kind, or at difficulty 4 sometimes just one of them (-1 = any).
  int query_color = static_cast<int>(rng.uniform_int(0, kColorCount - 1));
  int query_shape = static_cast<int>(rng.uniform_int(0, kShapeCount - 1));
  if (lv.partial_queries) {
    const int kind = static_cast<int>(rng.uniform_int(0, 4));
    if (kind == 3) query_shape = -1;
    if (kind == 4) query_color = -1;
  }
  const int targets = static_cast<int>(rng.uniform_int(lv.min_targets, lv.max_targets));
  const int distractors = static_cast<int>(rng.uniform_int(lv.min_distractors, lv.max_distractors));

  // The image size: a long side, an aspect ratio and an orientation; then the first view it becomes.
  const int long_side = static_cast<int>(rng.uniform_int(lv.min_long, lv.max_long));
  const int aspect_pct = static_cast<int>(rng.uniform_int(100, lv.max_aspect_pct));
  const int short_side = std::max(16, long_side * 100 / aspect_pct);
  const bool landscape = rng.bernoulli(0.5);
  const int width = landscape ? long_side : short_side, height = landscape ? short_side : long_side;
  const VisionParams vision;
  int view_w = 0, view_h = 0;
  view_size(width, height, vision, &view_w, &view_h);
  const double to_view = static_cast<double>(view_w) / width;  // view pixels per image pixel
  const double gap = std::max(2.0, 2.0 / to_view);             // >= 2 px between shapes in both image and view

  std::vector<Object> objects;
  for (int scene = 0;; ++scene) {
    if (scene == kSceneTries) throw MuseError("count: could not place the scene", ErrorKind::Internal);
    objects.clear();
    std::set<std::pair<int, int>> used;
    bool placed_all = true;
    for (int i = 0; i < targets + distractors && placed_all; ++i) {
      Object object{};
      // A target matches the query (a free attribute is random). A distractor differs from the query in the
      // colour, the kind or both; without near misses it differs in colour and its kind is free when mixed.
      bool other_color = false, other_shape = false;
      if (i >= targets) {
        if (query_color < 0) {
          other_shape = true;
        } else if (query_shape < 0 || !lv.near_misses) {
          other_color = true;
        } else {
          const int miss = static_cast<int>(rng.uniform_int(0, 2));
          other_color = miss != 2;
          other_shape = miss != 1;
        }
      }
      const bool free_shape = query_shape < 0 || (i >= targets && lv.mixed_shapes && !lv.near_misses);
      if (other_color)
        object.color = other_than(rng, query_color, kColorCount);
      else
        object.color = query_color >= 0 ? query_color : static_cast<int>(rng.uniform_int(0, kColorCount - 1));
      if (other_shape)
        object.shape = kShapes[other_than(rng, query_shape, kShapeCount)];
      else
        object.shape = kShapes[free_shape ? rng.uniform_int(0, kShapeCount - 1) : query_shape];
      object.rgb = shade(rng, color_by_name(kColors[object.color]), lv.shade_spread);
      object.radius = quarter(uniform(rng, lv.min_radius, lv.max_radius) / to_view);
      placed_all = false;
      for (int attempt = 0; attempt < kPlaceTries && !placed_all; ++attempt) {
        const double margin = object.radius + 1;
        object.x = quarter(uniform(rng, margin, width - margin));
        object.y = quarter(uniform(rng, margin, height - margin));
        // The same arithmetic on both axes (position × view size ÷ image size): a centre exactly on a patch edge
        // then lands in one patch whoever recomputes it (x × to_view rounds differently).
        object.col = static_cast<int>(std::floor(object.x * view_w / width / vision.patch_size));
        object.row = static_cast<int>(std::floor(object.y * view_h / height / vision.patch_size));
        if (used.count({object.row, object.col})) continue;
        const bool clear = std::all_of(objects.begin(), objects.end(), [&](const Object& o) {
          const double limit = (o.radius + object.radius) * 1.42 + gap;  // squares' corners included
          return std::hypot(o.x - object.x, o.y - object.y) >= limit;
        });
        if (!clear) continue;
        used.insert({object.row, object.col});
        objects.push_back(object);
        placed_all = true;
      }
    }
    if (placed_all) break;
  }
  std::sort(objects.begin(), objects.end(),
            [](const Object& a, const Object& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });

  Canvas canvas(width, height, style.background_color());
  nlohmann::json object_meta = nlohmann::json::array();
  std::string trace;
  int count = 0;
  for (const Object& object : objects) {
    canvas.fill_shape_f(object.shape, object.x, object.y, object.radius, object.rgb, style.samples());
    object_meta.push_back({{"row", object.row}, {"col", object.col}, {"x", object.x}, {"y", object.y},
                           {"radius", object.radius}, {"shape", shape_name(object.shape)},
                           {"color", kColors[object.color]}, {"rgb", color_json(object.rgb)}});
    const bool matches = (query_color < 0 || object.color == query_color) &&
                         (query_shape < 0 || object.shape == kShapes[query_shape]);
    if (matches) {
      trace += "r" + std::to_string(object.row) + "c" + std::to_string(object.col) + " ";
      ++count;
    }
  }
  if (count != targets) throw MuseError("count: internal error, a distractor matches the query", ErrorKind::Internal);
  trace += "=" + std::to_string(count);

  const std::string color_word = query_color >= 0 ? kColors[query_color] : "any";
  const std::string shape_word = query_shape >= 0 ? shape_name(kShapes[query_shape]) : "any";
  std::string what;
  if (query_color >= 0) what += color_word + " ";
  what += (query_shape >= 0 ? shape_word : std::string("shape")) + "s";
  const std::string question = word(count_wordings(), surface, rng, {{"what", what}});

  nlohmann::json style_meta = style.to_json();
  style_meta.erase("font");  // no text in the scene
  style_meta["shade_spread"] = lv.shade_spread;

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {image_segment(canvas.take()), text_segment(question)};
  example.reasoning = std::move(trace);
  example.answer = std::to_string(count);
  example.meta = {{"width", width},
                  {"height", height},
                  {"view", {view_w, view_h}},
                  {"cell", vision.patch_size},
                  {"color", color_word},
                  {"shape", shape_word},
                  {"what", what},
                  {"count", count},
                  {"objects", object_meta},
                  {"style", std::move(style_meta)}};
  // The problem without its surface: the query and the scene's objects (not their shades, not the style).
  nlohmann::json scene = object_meta;
  for (auto& object : scene) object.erase("rgb");
  example.problem_key = "count " + what + " " + scene.dump();
  return example;
}

double CountTask::verify(const Example& example, const std::string& answer) const {
  return trim_lower(answer) == trim_lower(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

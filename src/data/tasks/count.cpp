#include "data/tasks/count.h"

#include <algorithm>
#include <vector>

#include "data/render/canvas.h"
#include "util/error.h"

namespace muse {

namespace {

constexpr int kCell = 8;  // pixels per grid cell = the vision patch size
const char* const kColors[] = {"red", "green", "blue", "yellow", "purple", "orange"};
constexpr int kColorCount = 6;
constexpr Shape kShapes[] = {Shape::Square, Shape::Circle, Shape::Triangle};
constexpr int kShapeCount = 3;

struct Level {
  int grid;                      // cells per side
  int min_targets, max_targets;
  int min_distractors, max_distractors;
  bool mixed_shapes;             // false: every shape is the query's kind
  bool near_misses;              // distractors may share the query's colour or kind
  bool jitter;                   // radius 2..3 and free placement inside the cell
  bool partial_queries;          // colour-only and kind-only questions
};

const Level& level(int difficulty) {
  static const Level levels[] = {
      {5, 1, 3, 1, 3, false, false, false, false},
      {6, 1, 5, 1, 5, true, false, false, false},
      {8, 0, 7, 2, 7, true, true, false, false},
      {8, 0, 9, 3, 9, true, true, true, true},
  };
  return levels[difficulty - 1];
}

struct Object {
  int row, col, x, y, radius;
  Shape shape;
  int color;  // index into kColors
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

}  // namespace

std::string CountTask::description() const {
  return "count the shapes of a colour and/or kind in a rendered grid scene; difficulty = scene size and distractors";
}

int CountTask::min_difficulty() const { return 1; }
int CountTask::max_difficulty() const { return 4; }

Example CountTask::generate(Rng& rng, int difficulty) const {
  check_difficulty(*this, difficulty);
  const Level& lv = level(difficulty);

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
  std::vector<int> cells(static_cast<size_t>(lv.grid * lv.grid));
  for (size_t i = 0; i < cells.size(); ++i) cells[i] = static_cast<int>(i);
  rng.shuffle(cells);

  std::vector<Object> objects;
  for (int i = 0; i < targets + distractors; ++i) {
    Object object{};
    object.row = cells[static_cast<size_t>(i)] / lv.grid;
    object.col = cells[static_cast<size_t>(i)] % lv.grid;
    // A target matches the query (a free attribute is random). A distractor differs from the query in the colour,
    // the kind or both; without near misses it differs in colour and its kind is free when kinds are mixed.
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
    object.radius = lv.jitter ? static_cast<int>(rng.uniform_int(2, 3)) : 3;
    const int lo = object.radius, hi = kCell - 1 - object.radius;  // the shape's box stays inside its cell
    object.x = object.col * kCell + (lv.jitter ? static_cast<int>(rng.uniform_int(lo, hi)) : 3);
    object.y = object.row * kCell + (lv.jitter ? static_cast<int>(rng.uniform_int(lo, hi)) : 3);
    objects.push_back(object);
  }
  std::sort(objects.begin(), objects.end(),
            [](const Object& a, const Object& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });

  const int side = lv.grid * kCell;
  Canvas canvas(side, side);
  nlohmann::json object_meta = nlohmann::json::array();
  std::string trace;
  int count = 0;
  for (const Object& object : objects) {
    canvas.draw_shape(object.shape, object.x, object.y, object.radius, color_by_name(kColors[object.color]));
    object_meta.push_back({{"row", object.row}, {"col", object.col}, {"x", object.x}, {"y", object.y},
                           {"radius", object.radius}, {"shape", shape_name(object.shape)},
                           {"color", kColors[object.color]}});
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
  std::string question = "How many ";
  if (query_color >= 0) question += color_word + " ";
  question += (query_shape >= 0 ? shape_word : std::string("shape")) + "s?";

  Example example;
  example.task = name();
  example.difficulty = difficulty;
  example.prompt = {image_segment(canvas.take()), text_segment(question)};
  example.reasoning = std::move(trace);
  example.answer = std::to_string(count);
  example.meta = {{"grid", lv.grid}, {"cell", kCell},  {"color", color_word},
                  {"shape", shape_word}, {"count", count}, {"objects", std::move(object_meta)}};
  return example;
}

double CountTask::verify(const Example& example, const std::string& answer) const {
  return trim_lower(answer) == trim_lower(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

#include "data/tasks/grid.h"

#include <deque>
#include <vector>

#include <cmath>

#include "data/patches.h"
#include "data/render/canvas.h"
#include "data/render/style.h"
#include "util/error.h"

namespace muse {

namespace {

constexpr double kLoopRate = 0.15;      // share of the carved maze's walls knocked out afterwards
constexpr int kMaxAttempts = 10000;     // mazes drawn before giving up (about 2 are needed on average)
constexpr int kStep[4][2] = {{-1, 0}, {0, -1}, {0, 1}, {1, 0}};  // (row, col) offsets

struct Maze {
  int size = 0;
  std::vector<char> wall;  // row-major
  bool inside(int r, int c) const { return r >= 0 && c >= 0 && r < size && c < size; }
  bool free(int r, int c) const { return inside(r, c) && !wall[static_cast<size_t>(r * size + c)]; }
  void set_wall(int cell, bool is_wall) { wall[static_cast<size_t>(cell)] = is_wall; }
};

// One-cell-wide corridors grown depth first from a random cell: a wall becomes corridor only if no free cell
// other than the one it is carved from touches it, so corridors never run side by side. Then loops.
Maze carve(Rng& rng, int size) {
  Maze maze;
  maze.size = size;
  maze.wall.assign(static_cast<size_t>(size * size), 1);
  const int first = static_cast<int>(rng.uniform_int(0, size * size - 1));
  maze.set_wall(first, false);
  std::vector<int> stack = {first};
  while (!stack.empty()) {
    const int at = stack.back(), r = at / size, c = at % size;
    std::vector<int> options;
    for (const auto& step : kStep) {
      const int nr = r + step[0], nc = c + step[1];
      if (!maze.inside(nr, nc) || maze.free(nr, nc)) continue;
      bool touches_other = false;
      for (const auto& side : kStep) {
        const int mr = nr + side[0], mc = nc + side[1];
        if ((mr != r || mc != c) && maze.free(mr, mc)) touches_other = true;
      }
      if (!touches_other) options.push_back(nr * size + nc);
    }
    if (options.empty()) {
      stack.pop_back();
      continue;
    }
    const int next = options[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(options.size()) - 1))];
    maze.set_wall(next, false);
    stack.push_back(next);
  }
  for (int cell = 0; cell < size * size; ++cell)
    if (maze.wall[static_cast<size_t>(cell)] && rng.bernoulli(kLoopRate)) maze.set_wall(cell, false);
  return maze;
}

// Breadth-first distances from `start` (-1 = unreachable) and each reached cell's first discoverer.
void bfs(const Maze& maze, int start, std::vector<int>* dist, std::vector<int>* parent) {
  const size_t cells = static_cast<size_t>(maze.size * maze.size);
  dist->assign(cells, -1);
  parent->assign(cells, -1);
  std::deque<int> queue = {start};
  (*dist)[static_cast<size_t>(start)] = 0;
  while (!queue.empty()) {
    const int at = queue.front();
    queue.pop_front();
    for (const auto& step : kStep) {
      const int nr = at / maze.size + step[0], nc = at % maze.size + step[1];
      const int next = nr * maze.size + nc;
      if (!maze.free(nr, nc) || (*dist)[static_cast<size_t>(next)] >= 0) continue;
      (*dist)[static_cast<size_t>(next)] = (*dist)[static_cast<size_t>(at)] + 1;
      (*parent)[static_cast<size_t>(next)] = at;
      queue.push_back(next);
    }
  }
}

std::string cell_name(int cell, int size) {
  return "r" + std::to_string(cell / size) + "c" + std::to_string(cell % size);
}

// The BFS layers up to the goal's (which lists only the goal) or up to the first empty one; no "=answer".
std::string bfs_layers(const Maze& maze, int start, int goal) {
  std::vector<int> dist, parent;
  bfs(maze, start, &dist, &parent);
  const int cells = maze.size * maze.size;
  const int goal_distance = dist[static_cast<size_t>(goal)];
  std::string trace;
  for (int d = 1;; ++d) {
    if (!trace.empty()) trace += "|";
    trace += "d" + std::to_string(d);
    if (d == goal_distance) return trace + " " + cell_name(goal, maze.size) + " goal";
    bool any = false;
    for (int cell = 0; cell < cells; ++cell)
      if (dist[static_cast<size_t>(cell)] == d) {
        trace += " " + cell_name(cell, maze.size);
        any = true;
      }
    if (!any) return trace + " none";
  }
}

std::string trim_lower(const std::string& text) {
  const char* space = " \t\r\n";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  std::string out = text.substr(begin, text.find_last_not_of(space) - begin + 1);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

const WordingPool& grid_wordings(const std::string& kind) {
  static const WordingPool path = [] {
    WordingPool p{{"Is there a path from green to red?", "Can you get from green to red?",
                   "Is red reachable from green?", "Is there a way from green to red?",
                   "is there a path from green to red", "Does a path lead from green to red?",
                   "Can green reach red?", "Path from green to red?", "Is there a route from green to red?"},
                  {"Could someone walk from the green cell to the red cell?", "Do green and red connect?",
                   "Tell me if the red cell can be reached from the green one.", "Is the red cell open to green?"}};
    validate_wordings("grid path", p);
    return p;
  }();
  static const WordingPool length = [] {
    WordingPool p{{"Shortest path length from green to red?", "How many steps from green to red?",
                   "What is the shortest path from green to red?", "Length of the shortest path from green to red?",
                   "how many steps from green to red", "Fewest steps from green to red?",
                   "How long is the shortest path from green to red?", "Steps from green to red?",
                   "Count the steps of the shortest path from green to red."},
                  {"What is the least number of moves to walk from the green cell to the red cell?",
                   "Give the distance in steps between green and red.", "Minimum moves from green to red?",
                   "Tell me how far red is from green in steps."}};
    validate_wordings("grid length", p);
    return p;
  }();
  if (kind == "path") return path;
  if (kind == "length") return length;
  throw MuseError("grid: unknown question kind '" + kind + "'");
}

std::string GridTask::description() const {
  return "is there a path through a maze image, and how long is the shortest; difficulty = maze size (4x4..8x8)";
}

int GridTask::min_difficulty() const { return 1; }
int GridTask::max_difficulty() const { return 5; }

Example GridTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  const int size = 3 + difficulty;
  const RenderStyle style = sample_style(rng, surface);
  // The look: cell size (quarter pixels), a margin around the maze, and shades of the four cell colours.
  const double cell_px = std::round((difficulty <= 2 ? 8 + 6 * rng.uniform() : 7 + 5 * rng.uniform()) * 4) / 4;
  const int margin = static_cast<int>(rng.uniform_int(0, 6));
  const uint8_t level = static_cast<uint8_t>(rng.uniform_int(0, 70));  // walls: black .. dark gray, a faint tint
  const Color wall_rgb = shade(rng, Color{level, level, level}, 8);
  const Color start_rgb = shade(rng, color_by_name("green"), 20);
  const Color goal_rgb = shade(rng, color_by_name("red"), 20);
  const int side = 2 * margin + static_cast<int>(std::ceil(size * cell_px));
  const bool ask_path = rng.bernoulli(0.5);
  const bool want_path = rng.bernoulli(ask_path ? 0.5 : 0.75);

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    Maze maze = carve(rng, size);
    std::vector<int> free_cells;
    for (int cell = 0; cell < size * size; ++cell)
      if (!maze.wall[static_cast<size_t>(cell)]) free_cells.push_back(cell);
    if (free_cells.size() < 2) continue;
    rng.shuffle(free_cells);
    const int start = free_cells[0], goal = free_cells[1];

    std::vector<int> dist, parent;
    bfs(maze, start, &dist, &parent);
    if (!want_path) {
      // Wall up a random cell of the current shortest path until the goal is out of reach.
      bool cut = true;
      while (dist[static_cast<size_t>(goal)] >= 0) {
        std::vector<int> inner;
        for (int at = parent[static_cast<size_t>(goal)]; at != start; at = parent[static_cast<size_t>(at)])
          inner.push_back(at);
        if (inner.empty()) {  // adjacent: no wall can separate them
          cut = false;
          break;
        }
        maze.set_wall(inner[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(inner.size()) - 1))], true);
        bfs(maze, start, &dist, &parent);
      }
      if (!cut) continue;
    } else if (dist[static_cast<size_t>(goal)] < 0) {
      continue;
    }

    const int distance = dist[static_cast<size_t>(goal)];
    const std::string answer = ask_path ? (distance >= 0 ? "yes" : "no")
                                        : (distance >= 0 ? std::to_string(distance) : "none");
    std::string trace = bfs_layers(maze, start, goal) + " =" + answer;
    if (trace.size() > kGridTraceBudget) continue;

    Canvas canvas(side, side, style.background_color());
    // A frame of wall colour around the maze, so its edge is visible on any background.
    canvas.fill_rect_f(margin - 1, margin - 1, margin + size * cell_px + 1, margin + size * cell_px + 1, wall_rgb,
                       style.samples());
    canvas.fill_rect_f(margin, margin, margin + size * cell_px, margin + size * cell_px, style.background_color(),
                       style.samples());
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < size; ++r) {
      std::string row;
      for (int c = 0; c < size; ++c) {
        const int cell = r * size + c;
        const char kind = cell == start ? 'S' : cell == goal ? 'G' : maze.wall[static_cast<size_t>(cell)] ? '#' : '.';
        row += kind;
        if (kind == '.') continue;  // free cells show the background
        const Color color = kind == 'S' ? start_rgb : kind == 'G' ? goal_rgb : wall_rgb;
        canvas.fill_rect_f(margin + c * cell_px, margin + r * cell_px, margin + (c + 1) * cell_px,
                           margin + (r + 1) * cell_px, color, style.samples());
      }
      rows.push_back(row);
    }

    Example example;
    example.task = name();
    example.difficulty = difficulty;
    example.prompt = {image_segment(canvas.take()),
                      text_segment(word(grid_wordings(ask_path ? "path" : "length"), surface, rng, {}))};
    example.reasoning = std::move(trace);
    example.answer = answer;
    example.meta = {{"size", size},
                    {"cell", cell_px},
                    {"margin", margin},
                    {"width", side},
                    {"colors", {{"wall", color_json(wall_rgb)}, {"start", color_json(start_rgb)},
                                {"goal", color_json(goal_rgb)}}},
                    {"style", style.to_json()},
                    {"maze", std::move(rows)},
                    {"start", {start / size, start % size}},
                    {"goal", {goal / size, goal % size}},
                    {"question", ask_path ? "path" : "length"},
                    {"distance", distance}};
    example.meta["style"].erase("font");
    example.problem_key = "grid " + example.meta["maze"].dump() + (ask_path ? " path" : " length");
    return example;
  }
  throw MuseError("grid: no maze with a short enough trace after " + std::to_string(kMaxAttempts) + " tries");
}

double GridTask::verify(const Example& example, const std::string& answer) const {
  return trim_lower(answer) == trim_lower(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

#include "data/tasks/grid.h"

#include <deque>
#include <vector>

#include "data/render/canvas.h"
#include "util/error.h"

namespace muse {

namespace {

constexpr int kCell = 8;                // pixels per maze cell = the vision patch size
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

std::string GridTask::description() const {
  return "is there a path through a maze image, and how long is the shortest; difficulty = maze size (4x4..8x8)";
}

int GridTask::min_difficulty() const { return 1; }
int GridTask::max_difficulty() const { return 5; }

Example GridTask::generate(Rng& rng, int difficulty) const {
  check_difficulty(*this, difficulty);
  const int size = 3 + difficulty;
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

    Canvas canvas(size * kCell, size * kCell);
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < size; ++r) {
      std::string row;
      for (int c = 0; c < size; ++c) {
        const int cell = r * size + c;
        const char kind = cell == start ? 'S' : cell == goal ? 'G' : maze.wall[static_cast<size_t>(cell)] ? '#' : '.';
        row += kind;
        const char* color = kind == 'S' ? "green" : kind == 'G' ? "red" : kind == '#' ? "black" : "white";
        canvas.fill_rect(c * kCell, r * kCell, (c + 1) * kCell, (r + 1) * kCell, color_by_name(color));
      }
      rows.push_back(row);
    }

    Example example;
    example.task = name();
    example.difficulty = difficulty;
    example.prompt = {image_segment(canvas.take()),
                      text_segment(ask_path ? "Is there a path from green to red?"
                                            : "Shortest path length from green to red?")};
    example.reasoning = std::move(trace);
    example.answer = answer;
    example.meta = {{"size", size},
                    {"cell", kCell},
                    {"maze", std::move(rows)},
                    {"start", {start / size, start % size}},
                    {"goal", {goal / size, goal % size}},
                    {"question", ask_path ? "path" : "length"},
                    {"distance", distance}};
    return example;
  }
  throw MuseError("grid: no maze with a short enough trace after " + std::to_string(kMaxAttempts) + " tries");
}

double GridTask::verify(const Example& example, const std::string& answer) const {
  return trim_lower(answer) == trim_lower(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

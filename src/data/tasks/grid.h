// Grid: a maze image; is there a path from the green cell to the red one, and how long is the shortest?
//
// The maze is k x k cells of 8 x 8 pixels (one cell = one image patch; the image, 8k x 8k pixels, fits the
// first view without downscaling): walls black, free cells white, start green, goal red. A step moves to an
// edge-adjacent free cell. Difficulty 1..5 is the size: k = 3 + difficulty (4x4 .. 8x8). Mazes are carved as
// one-cell-wide corridors (a random depth-first tree whose corridors never touch sideways), then about 15% of
// the remaining walls are knocked out to make loops. For a "no"/"none" answer the start is cut off from the
// goal by walling up cells of the shortest path until none is left, so unreachable mazes look like reachable ones.
//
// Prompt: the image, then "Is there a path from green to red?" (answer "yes"/"no", each about half the time)
// or "Shortest path length from green to red?" (answer the number of steps, or "none" about a quarter of the time).
// Reasoning: breadth-first search from the start, one '|'-separated field per distance: "dN" and the cells
// first reached at distance N in raster order ("r2c5" = row 2, column 5). It stops at the layer that reaches
// the goal, which lists only the goal followed by "goal", or at the first empty layer ("dN none"); then "=answer":
//   d1 r0c1 r1c0|d2 r1c1|d3 r2c1 goal =3        d1 r0c1 r1c0|d2 r1c1|d3 r2c1 goal =yes
//   d1 r3c2|d2 r3c1|d3 none =none                d1 none =no
// Traces are at most 160 characters (mazes with longer ones are redrawn).
// verify(): 1.0 for exactly the answer after trimming, case-insensitive ("Yes", " 7 "), else 0.
// meta: {"size": k, "cell": 8, "maze": ["S.#.", ...] ('#' wall, '.' free, 'S' start, 'G' goal),
//        "start": [r, c], "goal": [r, c], "question": "path"|"length", "distance": steps or -1}
#pragma once
#include <string>

#include "data/task.h"

namespace muse {

class GridTask : public Task {
 public:
  std::string name() const override { return "grid"; }
  std::string description() const override;
  int min_difficulty() const override;
  int max_difficulty() const override;
  Example generate(Rng& rng, int difficulty) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

// Most characters a grid reasoning trace has.
constexpr size_t kGridTraceBudget = 160;

}  // namespace muse

// Grid: a maze image; is there a path from the green cell to the red one, and how long is the shortest?
//
// The maze is k x k square cells of `cell` pixels (a quarter-pixel multiple: 8..14 at difficulty 1-2, 7..12
// from 3; so cells do not sit on the 8-pixel patch grid, and larger mazes are downscaled by the first view)
// inside a margin of 0..6 pixels (a 1-pixel frame in the wall colour when the margin is >= 1): walls black .. dark gray (level
// 0..70, each channel +-8), free cells the background, start a shade of green, goal a shade of red
// (+-20). A step moves to an edge-adjacent free cell. Difficulty 1..5 is the size: k = 3 + difficulty (4x4 ..
// 8x8). Mazes are carved as one-cell-wide corridors (a random depth-first tree whose corridors never touch
// sideways), then about 15% of the remaining walls are knocked out to make loops. For a "no"/"none" answer
// the start is cut off from the goal by walling up cells of the shortest path until none is left, so
// unreachable mazes look like reachable ones.
// Style space (render/style.h): background white/cream/lightgray/rose/sky; anti-aliasing on/off (cell edges
// at fractional positions blend); the cell size, margin and shades above.
// HELD-OUT style (Surface::Heldout only; training rejects it): the sky background with anti-aliasing.
//
// Prompt: the image, then a question from grid_wordings("path") (9 trained, e.g. "Is there a path from
// green to red?", 4 held-out; answer "yes"/"no", each about half the time) or grid_wordings("length") (9
// trained, e.g. "Shortest path length from green to red?", 4 held-out; answer the number of steps, or "none"
// about a quarter of the time).
// Reasoning: breadth-first search from the start, one '|'-separated field per distance: "dN" and the MAZE
// cells first reached at distance N in raster order ("r2c5" = maze row 2, column 5). It stops at the layer
// that reaches the goal, which lists only the goal followed by "goal", or at the first empty layer ("dN
// none"); then "=answer":
//   d1 r0c1 r1c0|d2 r1c1|d3 r2c1 goal =3        d1 r0c1 r1c0|d2 r1c1|d3 r2c1 goal =yes
//   d1 r3c2|d2 r3c1|d3 none =none                d1 none =no
// Traces are at most 160 characters (mazes with longer ones are redrawn).
// verify(): 1.0 for exactly the answer after trimming, case-insensitive ("Yes", " 7 "), else 0.
// meta: {"size": k, "cell": px, "margin": px, "width": px (square image), "maze": ["S.#.", ...] ('#' wall,
//        '.' free, 'S' start, 'G' goal), "colors": {"wall", "start", "goal": [r, g, b]}, "start": [r, c],
//        "goal": [r, c], "question": "path"|"length", "distance": steps or -1,
//        "style": {"background", "antialias", "heldout"}}
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
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  double verify(const Example& example, const std::string& answer) const override;
};

// The question templates of one kind ("path" or "length"; no slots); validated on first use.
const WordingPool& grid_wordings(const std::string& kind);

// Most characters a grid reasoning trace has.
constexpr size_t kGridTraceBudget = 160;

}  // namespace muse

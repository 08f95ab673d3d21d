// Table: lookup, filter and aggregate over a table segment, multi-step.
//
// Prompt: a table segment, then one short text question. The table's first column names the rows (short ASCII
// names, 3..5 letters, all different: fruit / city / person / animal); the other columns hold small integers,
// 1..20 at difficulties 1-2 and 1..9 at difficulty 3 (the sums stay two digits). Column names are themed
// (price, stock, temp, score, ...) and never "max", "min" or "count", which the traces use.
//
// Difficulty 1..3:
//   1  3-4 rows, 1-2 value columns. Lookup a cell, or find the row holding a value (unique in its column).
//   2  4-6 rows, 2-3 value columns. Count the rows passing a threshold, or name the row with the highest /
//      lowest value (unique).
//   3  6-8 rows, 2-3 value columns. Sum a column; sum one column over the rows passing a threshold on another
//      (at least one passes); or look up a column in the row with the highest / lowest value of another.
//
// Reasoning traces are '|'-separated steps, one per row in row order, each starting with the row's name, so
// every step only needs its own row and the step before it:
//   what is the price of pear?                 pear price=7                                    -> 7
//   which fruit has price 7?                   apple 4=7 n|pear 7=7 y|fig 2=7 n                -> pear
//   how many rows have price > 5?              apple 4>5 n|pear 7>5 y1|fig 9>5 y2|count 2      -> 2
//       (each passing row carries the running count; "count N" closes, 0 when none pass)
//   which fruit has the highest price?         apple 4|pear 7>4|fig 2<7|kiwi 7=7|max pear 7    -> pear
//       (each row is compared with the best so far, which is the larger side of the step before; "lowest"
//        keeps the smaller side and closes with "min")
//   what is the total stock?                   apple +4=4|pear +7=11|fig +2=13                 -> 13
//   what is the total stock where price < 5?   apple 3<5 y +4=4|pear 7<5 n|fig 2<5 y +2=6     -> 6
//   what is the stock of the fruit with the highest price?
//                                              apple 4|pear 7>4|fig 2<7|max pear 7|pear stock=3 -> 3
// Traces average about 25 characters at difficulty 1 (longest ~55), 65 at 2 (~95) and 80 at 3 (~135), and are
// never longer than kTableTraceMaxChars. The answer is a number in canonical decimal or a row name.
// meta: {"kind": "lookup" | "which" | "count" | "extreme" | "sum" | "filter_sum" | "extreme_lookup"}.
#pragma once
#include <cstddef>
#include <string>

#include "data/task.h"

namespace muse {

class TableTask : public Task {
 public:
  std::string name() const override { return "table"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  Example generate(Rng& rng, int difficulty) const override;
  // 1.0 when the answer equals the reference after trimming surrounding whitespace, ignoring ASCII case.
  // Never throws.
  double verify(const Example& example, const std::string& answer) const override;
};

// Most characters a reasoning trace may have.
constexpr size_t kTableTraceMaxChars = 160;

}  // namespace muse

// Table: lookup, filter and aggregate over a table segment, multi-step, over open-vocabulary cells.
//
// Prompt: a table segment, then one short text question worded from the surface's pool (>= 8 trained templates
// per question kind, a disjoint held-out pool of >= 4; table_wording_pools()).
//
// The table. The first column (its name from a pool: name, item, player, city, ...; id/code/ref/sku/unit for
// code-named rows) names the rows, all different ignoring case, in one style per table: pronounceable made-up
// names of 2-3 syllables ("bokadi", "Tesun", "RIMAL"), real words ("mango", "Orion", "berlin") or codes
// ("KD-17", "BT7", "lot-042"). The other columns each have one cell type:
//   integer   1..99 at difficulty 1, 1..50 at 2, 1..9 at 3 (sums stay two digits)    "37"
//   decimal   "12.5", "3.25"          signed   "-3", "+4", "0"        unit     "4.20 kg", "17 min"
//   money     "$7", "$12.50"          percent  "45%", "12.5%"         date     "2024-03-05" (at most one column)
//   word      "amber", "paid"         code     as the row codes
// Column names come from a pool per type (stock, score, price, weight, rating, date, color, code, ...) and are
// sometimes varied ("Score", "SCORE", "score 2", "new score", "score_b"); never "max", "min" or "count", which the
// traces use. 3 in 10 tables are sparse: each non-integer value cell is missing with p = 0.15, shown as
// kMissingCell ("-", data/table.h: the loader's convention for empty CSV fields and JSON nulls). Questions never
// ask for a missing cell; integer columns are never missing, so aggregates stay exact.
//
// Held-out values. The letters kTableHeldoutLetters ("chjqwxyz") split the name/word/code vocabularies:
// Surface::Trained draws row names, words and codes that contain none of them (syllables from consonants
// bdfgklmnprstv and vowels aeiou, codes from A B D E F G I K L M N O P R S T U V, word lists filtered so); with
// Surface::Heldout every row name, word and code contains at least one (every syllable starts with one of
// chjqwxz, codes use only C H J Q W X Y Z, words like "kiwi", "zebra", "cyan"). So `--surface heldout` measures
// tables whose values never occur in training. Numbers (units included: "cm"), dates and column names are
// shared by both surfaces.
//
// Difficulty 1..3 (rows x value columns, the name column excluded; kinds drawn evenly):
//   1  3-5 x 2-3.   Lookup a cell (any type), or find the row holding a value (unique in its column, any type).
//   2  4-7 x 2-4.   Lookup; count the rows passing a threshold on an integer column; name the row with the
//                   highest / lowest integer value (unique).
//   3  6-10 x 3-5.  Lookup; sum an integer column; sum one integer column over the rows passing a threshold on
//                   another (at least one passes); or look up a column (any type) in the row with the highest /
//                   lowest value of an integer column.
// A problem is redrawn when its prompt's estimated_prompt_tokens exceeds kTablePromptMaxTokens or the prompt,
// trace and answer together exceed kTableExampleMaxTokens, so an example fits the model's 384-token context
// with room for the chat format (measured with models/default's tokenizer in the tests).
//
// Reasoning traces are '|'-separated steps, one per row in row order, each starting with the row's name, so
// every step only needs its own row and the step before it. Cells are copied verbatim (case, units, signs):
//   What's Tesun's weight?                      Tesun weight=4.20 kg                             -> 4.20 kg
//   Whose due is 2024-03-05?                    bok 2024-01-02=2024-03-05 n|Tesun 2024-03-05=2024-03-05 y
//                                                                                                 -> Tesun
//       (a missing cell is compared as "-": "rima -=2024-03-05 n")
//   Count rows with stock > 5.                  apple 4>5 n|pear 7>5 y1|fig 9>5 y2|count 2      -> 2
//       (each passing row carries the running count; "count N" closes, 0 when none pass)
//   which player has the highest score?         apple 4|pear 7>4|fig 2<7|kiwi 7=7|max pear 7    -> pear
//       (each row is compared with the best so far, which is the larger side of the step before; "lowest"
//        keeps the smaller side and closes with "min")
//   Total stock?                                apple +4=4|pear +7=11|fig +2=13                 -> 13
//   Add up stock where score < 5.               apple 3<5 y +4=4|pear 7<5 n|fig 2<5 y +2=6     -> 6
//   What's the price of the item that has the highest score?
//                                               apple 4|pear 7>4|fig 2<7|max pear 7|pear price=$3 -> $3
// Traces are never longer than kTableTraceMaxChars. The answer is a cell's exact text (lookup,
// extreme_lookup), a row name (which, extreme), or an integer in canonical decimal (count, sum, filter_sum).
// meta: {"kind": "lookup" | "which" | "count" | "extreme" | "sum" | "filter_sum" | "extreme_lookup",
//        "column": the asked column's name, and as the kind has them "row" (0-based index of the answer's row),
//        "other" (the filtered / ranked column), "op" (">" | "<"), "threshold", "highest" (bool)}.
// Generation is a pure function of the rng.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "data/surface.h"
#include "data/table.h"
#include "data/task.h"

namespace muse {

class TableTask : public Task {
 public:
  std::string name() const override { return "table"; }
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  // 1.0 when normalized_answer(answer) == normalized_answer(reference): the exact cell text ("4.20 kg", "$7",
  // a row name) after trimming surrounding whitespace, ignoring ASCII case. Never throws.
  double verify(const Example& example, const std::string& answer) const override;
};

// Most characters a reasoning trace may have (was 160 before the larger, open-vocabulary tables; +80).
constexpr size_t kTableTraceMaxChars = 240;
// Most estimated tokens a prompt (table + question) may have, and a prompt with its trace and answer.
constexpr size_t kTablePromptMaxTokens = 250;
constexpr size_t kTableExampleMaxTokens = 330;
// Letters that only held-out row names, words and codes contain (see above).
constexpr const char* kTableHeldoutLetters = "chjqwxyz";

// Trimmed of surrounding whitespace, ASCII lowercase: what verify() compares.
std::string normalized_answer(const std::string& text);
// A conservative token estimate for the SentencePiece tokenizer (digits split): one per digit and punctuation
// character, two per three letters of each letter run (made-up names split into short pieces).
size_t estimated_tokens(const std::string& text);
// Of a prompt: per cell its separator and estimated_tokens, per row its end, the table's brackets, the question.
size_t estimated_prompt_tokens(const Table& table, const std::string& question);
// The question kinds' pools (lookup, which, count, extreme, sum, filter_sum, extreme_lookup).
const std::vector<const WordingPool*>& table_wording_pools();

}  // namespace muse

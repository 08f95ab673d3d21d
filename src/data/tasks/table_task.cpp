#include "data/tasks/table_task.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "data/table.h"
#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

constexpr int kMaxGenerateAttempts = 1000;  // rejections (ties, no passing row, too long) are normal

// ---- Vocabularies -------------------------------------------------------------------------------------------

constexpr const char* kTrainedConsonants = "bdfgklmnprstv";
constexpr const char* kTrainedVowels = "aeiou";
constexpr const char* kTrainedCodas = "nrlst";
constexpr const char* kHeldoutOnsets = "chjqwxz";  // every held-out syllable starts with one
constexpr const char* kHeldoutVowels = "aeiouy";
constexpr const char* kTrainedCodeLetters = "ABDEFGIKLMNOPRSTUV";
constexpr const char* kHeldoutCodeLetters = "CHJQWXYZ";

struct Words {
  std::vector<std::string> names;  // row-name words
  std::vector<std::string> text;   // words of text columns
};

bool has_heldout_letter(const std::string& text) {
  for (char c : text)
    if (std::strchr(kTableHeldoutLetters, std::tolower(static_cast<unsigned char>(c))) && std::isalpha(static_cast<unsigned char>(c)))
      return true;
  return false;
}

// The lists, checked once against the rule the header promises (a slip in a list fails loudly, never silently).
const Words& words(Surface surface) {
  static const Words trained = {
      {"apple", "pear", "fig", "lime", "mango", "plum", "melon", "lemon", "grape", "olive", "date", "guava",
       "bean", "tulip", "lotus", "maple", "oak", "elm", "pine", "fern", "moss", "reed", "sage", "basil", "mint",
       "dill", "leek", "kale", "okra", "turnip", "salmon", "trout", "tuna", "seal", "bear", "deer", "mole",
       "lion", "tiger", "otter", "panda", "koala", "robin", "dove", "stork", "raven", "eagle", "rome", "oslo",
       "lima", "paris", "milan", "sofia", "berlin", "dublin", "madrid", "lisbon", "toronto", "denver",
       "austin", "boston", "nairobi", "lagos", "ankara", "vienna", "Atlas", "Orion", "Vega", "Rigel",
       "Nova", "Terra", "Luna", "Apollo", "Titan", "Umbra"},
      {"red", "blue", "green", "amber", "gold", "silver", "teal", "olive", "rose", "tan", "lime", "open",
       "done", "late", "idle", "sent", "paid", "lost", "booked", "stored", "listed", "east", "inner", "outer",
       "used", "small", "large", "medium", "simple", "premium", "tiered", "beta", "delta", "gamma", "sigma",
       "solid", "molten", "metal", "stone", "timber", "glass", "paper", "steel"}};
  static const Words heldout = {
      {"kiwi", "cherry", "peach", "quince", "yuzu", "papaya", "lychee", "hazel", "juniper", "cedar", "cypress",
       "walnut", "chestnut", "zebra", "hyena", "jackal", "yak", "fox", "wolf", "hawk", "crow", "owl", "heron",
       "quail", "jay", "finch", "cairo", "quito", "tokyo", "zurich", "hanoi", "kyiv", "doha", "havana",
       "jakarta", "chicago", "warsaw", "zagreb", "Zenith", "Hydra", "Lynx", "Phoenix", "Draco", "Cygnus",
       "Pyxis", "Ceres", "Juno", "Hyperion"},
      {"cyan", "white", "black", "yellow", "jade", "ivory", "charcoal", "azure", "crimson", "hold", "queued",
       "waiting", "closed", "shipped", "checked", "fixed", "archived", "high", "low", "heavy", "cheap", "zinc",
       "copper", "chrome", "wax", "clay", "cotton", "jute", "quartz", "onyx", "chi", "zeta", "theta",
       "phi", "yarn", "ochre", "jet"}};
  static const bool checked = [] {
    for (const auto* list : {&trained.names, &trained.text})
      for (const auto& w : *list)
        if (has_heldout_letter(w)) throw MuseError("table: trained word '" + w + "' uses a held-out letter", ErrorKind::Internal);
    for (const auto* list : {&heldout.names, &heldout.text})
      for (const auto& w : *list)
        if (!has_heldout_letter(w)) throw MuseError("table: held-out word '" + w + "' has no held-out letter", ErrorKind::Internal);
    return true;
  }();
  (void)checked;
  return surface == Surface::Trained ? trained : heldout;
}

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(items.size()) - 1))];
}

char pick_char(Rng& rng, const char* chars) {
  return chars[rng.uniform_int(0, static_cast<int64_t>(std::strlen(chars)) - 1)];
}

int rand_int(Rng& rng, int lo, int hi) { return static_cast<int>(rng.uniform_int(lo, hi)); }

enum class Case { Lower, Capital, Upper };

std::string with_case(std::string text, Case style) {
  if (style == Case::Upper)
    for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (style == Case::Capital && !text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

// A pronounceable made-up name of 2-3 syllables: trained ones consonant-vowel(-coda) from the trained letters,
// held-out ones start every syllable with a held-out letter.
std::string made_up_name(Rng& rng, Surface surface) {
  std::string name;
  const int syllables = rand_int(rng, 2, 3);
  for (int s = 0; s < syllables; ++s) {
    if (surface == Surface::Trained) {
      name += pick_char(rng, kTrainedConsonants);
      name += pick_char(rng, kTrainedVowels);
      if (s + 1 == syllables && rng.bernoulli(0.3)) name += pick_char(rng, kTrainedCodas);
    } else {
      name += pick_char(rng, kHeldoutOnsets);
      name += pick_char(rng, kHeldoutVowels);
    }
  }
  return name;
}

// "KD-17", "BT7", "lot-042" style codes; the letters come from the surface's code alphabet.
std::string made_up_code(Rng& rng, Surface surface, int style) {
  const char* letters = surface == Surface::Trained ? kTrainedCodeLetters : kHeldoutCodeLetters;
  std::string code;
  const int n_letters = style == 2 ? 3 : rand_int(rng, 1, 2);
  for (int i = 0; i < n_letters; ++i) code += pick_char(rng, letters);
  if (style == 0) return code + "-" + to_string(rand_int(rng, 1, 99));
  if (style == 1) return code + to_string(rand_int(rng, 1, 9));
  char digits[8];
  std::snprintf(digits, sizeof digits, "%03d", rand_int(rng, 1, 999));
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower + "-" + digits;
}

// ---- Columns ------------------------------------------------------------------------------------------------

enum class CellType { Int, Decimal, Signed, Unit, Money, Percent, Date, Word, Code };

struct ColumnKind {
  CellType type;
  std::vector<const char*> names;
};

const std::vector<ColumnKind>& column_kinds() {
  static const std::vector<ColumnKind> kinds = {
      {CellType::Int, {"stock", "sold", "score", "goals", "wins", "age", "rank", "qty", "units", "visits", "votes",
                       "points", "level", "seats", "laps", "rooms", "pages", "orders", "runs", "tries"}},
      {CellType::Decimal, {"rating", "ratio", "factor", "grade", "density", "index"}},
      {CellType::Signed, {"change", "delta", "diff", "balance", "net", "shift"}},
      {CellType::Unit, {"weight", "length", "distance", "volume", "time", "height"}},
      {CellType::Money, {"price", "cost", "fee", "budget", "salary", "rent"}},
      {CellType::Percent, {"share", "rate", "growth", "tax", "margin"}},
      {CellType::Date, {"date", "start", "due", "opened", "joined"}},
      {CellType::Word, {"color", "status", "type", "tag", "group", "label"}},
      {CellType::Code, {"code", "ref", "sku", "batch", "lot"}},
  };
  return kinds;
}

const std::vector<const char*>& key_names() {
  static const std::vector<const char*> keys = {"name", "item", "product", "player", "city", "team", "station",
                                                "ship", "user", "site", "store", "project", "member", "fruit",
                                                "animal", "village", "id", "host"};
  return keys;
}

// The unit of a unit column, by its pool name.
const char* unit_of(Rng& rng, const std::string& column) {
  if (column == "weight") return rng.bernoulli(0.5) ? "kg" : "g";
  if (column == "length" || column == "height") return rng.bernoulli(0.5) ? "m" : "cm";
  if (column == "distance") return rng.bernoulli(0.5) ? "km" : "mi";
  if (column == "volume") return rng.bernoulli(0.5) ? "L" : "ml";
  return rng.bernoulli(0.5) ? "min" : "s";
}

// A column name: the pool's, sometimes varied ("Score", "SCORE", "score 2", "new score", "score_b").
std::string column_name(Rng& rng, const char* base) {
  std::string name = base;
  switch (rand_int(rng, 0, 9)) {
    case 0: return with_case(name, Case::Capital);
    case 1: return with_case(name, Case::Upper);
    case 2: return name + " " + to_string(rand_int(rng, 1, 9));
    case 3: return std::string(pick(rng, std::vector<const char*>{"old ", "new ", "base ", "est. "})) + name;
    case 4: return name + "_" + pick_char(rng, "abc");
    default: return name;
  }
}

std::string format_decimal(int whole, int fraction, int places) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, places == 1 ? "%d.%01d" : "%d.%02d", whole, fraction);
  return buffer;
}

std::string random_cell(Rng& rng, CellType type, const std::string& unit, Surface surface, int code_style) {
  switch (type) {
    case CellType::Int: return "";  // set by the caller
    case CellType::Decimal:
      return rng.bernoulli(0.7) ? format_decimal(rand_int(rng, 0, 99), rand_int(rng, 0, 9), 1)
                                : format_decimal(rand_int(rng, 0, 9), rand_int(rng, 0, 99), 2);
    case CellType::Signed: {
      const int v = rand_int(rng, -40, 40);
      return (v > 0 && rng.bernoulli(0.2) ? "+" : "") + to_string(v);
    }
    case CellType::Unit:
      return (rng.bernoulli(0.5) ? to_string(rand_int(rng, 1, 250)) : format_decimal(rand_int(rng, 0, 19), rand_int(rng, 0, 99), 2)) +
             " " + unit;
    case CellType::Money:
      return "$" + (rng.bernoulli(0.6) ? to_string(rand_int(rng, 1, 99)) : format_decimal(rand_int(rng, 0, 49), rand_int(rng, 0, 99), 2));
    case CellType::Percent:
      return (rng.bernoulli(0.7) ? to_string(rand_int(rng, 0, 100)) : format_decimal(rand_int(rng, 0, 99), rand_int(rng, 0, 9), 1)) + "%";
    case CellType::Date: {
      char buffer[16];
      std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", rand_int(rng, 2015, 2026), rand_int(rng, 1, 12),
                    rand_int(rng, 1, 28));
      return buffer;
    }
    case CellType::Word: return pick(rng, words(surface).text);
    case CellType::Code: return made_up_code(rng, surface, code_style);
  }
  return "";
}

// ---- The grid -----------------------------------------------------------------------------------------------

enum class Kind { Lookup, Which, Count, Extreme, Sum, FilterSum, ExtremeLookup };

struct Level {
  int min_rows, max_rows;
  int min_columns, max_columns;  // value columns, the name column excluded
  int max_value;                 // integer columns hold 1..max_value
  std::vector<Kind> kinds;
};

const Level& level(int difficulty) {
  static const Level kLevels[] = {
      {3, 5, 2, 3, 99, {Kind::Lookup, Kind::Which}},
      {4, 7, 2, 4, 50, {Kind::Lookup, Kind::Count, Kind::Extreme}},
      {6, 10, 3, 5, 9, {Kind::Lookup, Kind::Sum, Kind::FilterSum, Kind::ExtremeLookup}},
  };
  return kLevels[difficulty - 1];
}

int integer_columns_needed(Kind kind) {
  switch (kind) {
    case Kind::Lookup:
    case Kind::Which: return 0;
    case Kind::Count:
    case Kind::Extreme:
    case Kind::Sum:
    case Kind::ExtremeLookup: return 1;
    case Kind::FilterSum: return 2;
  }
  return 0;
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Lookup: return "lookup";
    case Kind::Which: return "which";
    case Kind::Count: return "count";
    case Kind::Extreme: return "extreme";
    case Kind::Sum: return "sum";
    case Kind::FilterSum: return "filter_sum";
    case Kind::ExtremeLookup: return "extreme_lookup";
  }
  return "";
}

struct Column {
  std::string name;
  CellType type;
  std::vector<std::string> cells;  // as the table shows them
  std::vector<int> ints;           // Int columns: the values
};

struct Grid {
  std::string key;
  std::vector<std::string> names;
  std::vector<Column> columns;
  size_t rows() const { return names.size(); }
};

bool is_missing(const std::string& cell) { return cell == kMissingCell; }

std::optional<Grid> random_grid(Rng& rng, const Level& lv, Kind kind, Surface surface) {
  Grid grid;
  const auto n_rows = static_cast<size_t>(rand_int(rng, lv.min_rows, lv.max_rows));
  const auto n_columns = static_cast<size_t>(rand_int(rng, lv.min_columns, lv.max_columns));
  const int need_ints = integer_columns_needed(kind);

  // Row names: one style per table, all different (ignoring case, as verify() does).
  const int name_style = rand_int(rng, 0, 5);  // 0-2 made-up names, 3-4 words, 5 codes
  const Case name_case = name_style == 1 ? Case::Capital : name_style == 2 ? (rng.bernoulli(0.5) ? Case::Upper : Case::Capital)
                                                                           : Case::Lower;
  const int code_style = rand_int(rng, 0, 2);
  grid.key = name_style == 5 ? pick(rng, std::vector<const char*>{"id", "code", "ref", "sku", "unit"}) : pick(rng, key_names());
  std::set<std::string> seen;
  for (int tries = 0; grid.names.size() < n_rows; ++tries) {
    if (tries > 200) return std::nullopt;
    std::string name = name_style <= 2 ? with_case(made_up_name(rng, surface), name_case)
                       : name_style <= 4 ? pick(rng, words(surface).names)
                                         : made_up_code(rng, surface, code_style);
    std::string folded = name;
    for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!seen.insert(folded).second) continue;
    grid.names.push_back(name);
  }

  // Column types: the integer columns the question needs, the rest of any type (at most one date column: dates
  // are ten tokens each).
  std::vector<size_t> kind_index;
  for (size_t c = 0; c < n_columns; ++c) {
    size_t k = static_cast<int>(c) < need_ints ? 0 : static_cast<size_t>(rand_int(rng, 0, static_cast<int>(column_kinds().size()) - 1));
    if (static_cast<int>(c) >= need_ints && rng.bernoulli(0.3)) k = 0;  // integer columns stay common
    kind_index.push_back(k);
  }
  rng.shuffle(kind_index);
  if (std::count_if(kind_index.begin(), kind_index.end(), [](size_t k) { return column_kinds()[k].type == CellType::Date; }) > 1)
    return std::nullopt;
  const bool sparse = rng.bernoulli(0.3);
  std::set<std::string> names_used = {grid.key};
  for (size_t k : kind_index) {
    Column column;
    column.type = column_kinds()[k].type;
    const char* base = pick(rng, column_kinds()[k].names);
    column.name = column_name(rng, base);
    std::string folded = column.name;
    for (char& ch : folded) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!names_used.insert(folded).second) return std::nullopt;
    const std::string unit = column.type == CellType::Unit ? unit_of(rng, base) : "";
    const int style = rand_int(rng, 0, 2);
    for (size_t r = 0; r < n_rows; ++r) {
      if (column.type == CellType::Int) {
        column.ints.push_back(rand_int(rng, 1, lv.max_value));
        column.cells.push_back(to_string(column.ints.back()));
      } else if (sparse && rng.bernoulli(0.15)) {
        column.cells.push_back(kMissingCell);
      } else {
        column.cells.push_back(random_cell(rng, column.type, unit, surface, style));
      }
    }
    grid.columns.push_back(std::move(column));
  }
  return grid;
}

Table to_table(const Grid& grid) {
  Table table;
  table.header.push_back(grid.key);
  for (const auto& column : grid.columns) table.header.push_back(column.name);
  for (size_t r = 0; r < grid.rows(); ++r) {
    std::vector<std::string> row = {grid.names[r]};
    for (const auto& column : grid.columns) row.push_back(column.cells[r]);
    table.rows.push_back(std::move(row));
  }
  return table;
}

// ---- Wordings -----------------------------------------------------------------------------------------------

const WordingPool& pool_of(Kind kind) {
  static const WordingPool lookup = {
      {"what is the {col} of {row}?", "What's {row}'s {col}?", "{col} of {row}?", "Look up the {col} for {row}.",
       "Find the {col} of {row}.", "Tell me the {col} for {row}.", "{row}: what is its {col}?",
       "What {col} does {row} have?", "Give the {col} listed for {row}.", "In the table, what is {row}'s {col}?"},
      {"Read off the {col} in the {row} row.", "Which {col} is recorded for {row}?", "{row} -> {col}?",
       "Report {row}'s {col} from the table."}};
  static const WordingPool which = {
      {"which {key} has {col} {value}?", "Which {key} has a {col} of {value}?", "Whose {col} is {value}?",
       "Find the {key} with {col} {value}.", "{col} {value}: which {key}?", "Name the {key} whose {col} is {value}.",
       "Which row has {col} equal to {value}? Give the {key}.", "What {key} has {value} as its {col}?"},
      {"Identify the {key} where {col} = {value}.", "The {col} is {value} for which {key}?",
       "Who or what has {col} {value}? Answer with the {key}.", "Point to the {key} with a {col} value of {value}."}};
  static const WordingPool count = {
      {"how many rows have {col} {op} {threshold}?", "How many entries have {col} {op} {threshold}?",
       "Count the rows where {col} {op} {threshold}.", "Number of rows with {col} {op} {threshold}?",
       "How many records have a {col} {op} {threshold}?", "Count rows with {col} {op} {threshold}.",
       "In how many rows is {col} {op} {threshold}?", "rows with {col} {op} {threshold}: how many?"},
      {"Tally the rows whose {col} is {op} {threshold}.", "For how many rows does {col} {op} {threshold} hold?",
       "What number of rows satisfy {col} {op} {threshold}?", "Give the count of lines having {col} {op} {threshold}."}};
  static const WordingPool extreme = {
      {"which {key} has the {dir} {col}?", "Whose {col} is the {dir}?", "{key} with the {dir} {col}?",
       "Find the {key} with the {dir} {col}.", "Name the {key} that has the {dir} {col}.",
       "Which row has the {dir} {col}? Give the {key}.", "Which {key}'s {col} is the {dir}?",
       "Tell me which {key} has the {dir} {col}."},
      {"Among all rows, whose {col} is {dir}?", "Identify the {key} with the {dir} value of {col}.",
       "The {dir} {col} belongs to which {key}?", "Pick the {key} whose {col} is the {dir} in the table."}};
  static const WordingPool sum = {
      {"what is the total {col}?", "What's the sum of {col}?", "Add up the {col} column.", "Total {col}?",
       "Sum the {col} over all rows.", "What do the {col} values add up to?", "Give the total of {col}.",
       "What is the {col} summed over every row?"},
      {"Compute the grand total of {col}.", "If you add every {col} together, what do you get?",
       "{col}, all rows combined?", "Report the sum of the {col} column."}};
  static const WordingPool filter_sum = {
      {"what is the total {col} where {other} {op} {threshold}?", "Sum {col} over rows with {other} {op} {threshold}.",
       "What's the total {col} for rows where {other} {op} {threshold}?", "Add up {col} where {other} {op} {threshold}.",
       "Total {col} of the rows with {other} {op} {threshold}?",
       "For rows with {other} {op} {threshold}, what is the sum of {col}?",
       "Where {other} {op} {threshold}, what does {col} add up to?",
       "Give the sum of {col} across rows whose {other} {op} {threshold}."},
      {"Restrict to {other} {op} {threshold}; total the {col}.",
       "Considering only rows with {other} {op} {threshold}, compute total {col}.",
       "Combined {col} of every row where {other} is {op} {threshold}?", "Filter {other} {op} {threshold}, then sum {col}."}};
  static const WordingPool extreme_lookup = {
      {"what is the {col} of the {key} with the {dir} {other}?", "What's the {col} of the {key} that has the {dir} {other}?",
       "Find the {dir} {other}, then give that {key}'s {col}.", "{col} of the {key} with the {dir} {other}?",
       "Look up the {col} for the {key} with the {dir} {other}.", "The {key} with the {dir} {other}: what is its {col}?",
       "Give the {col} of whichever {key} has the {dir} {other}.", "What {col} does the {key} with the {dir} {other} have?"},
      {"Locate the row of {dir} {other} and report its {col}.", "Which {col} goes with the {dir} {other}?",
       "Take the {key} whose {other} is {dir}; read its {col}.", "Report {col} for the row where {other} is the {dir}."}};
  switch (kind) {
    case Kind::Lookup: return lookup;
    case Kind::Which: return which;
    case Kind::Count: return count;
    case Kind::Extreme: return extreme;
    case Kind::Sum: return sum;
    case Kind::FilterSum: return filter_sum;
    case Kind::ExtremeLookup: return extreme_lookup;
  }
  return lookup;
}

// ---- Problems -----------------------------------------------------------------------------------------------

struct Problem {
  std::string question, reasoning, answer;
  nlohmann::json meta;
};

std::string join(const std::vector<std::string>& steps) {
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) out += (i ? "|" : "") + steps[i];
  return out;
}

bool passes(int value, char op, int threshold) { return op == '>' ? value > threshold : value < threshold; }

int random_threshold(Rng& rng, const Column& column) {
  const auto [lo, hi] = std::minmax_element(column.ints.begin(), column.ints.end());
  return rand_int(rng, *lo, *hi);
}

std::optional<size_t> extreme_steps(const Grid& grid, const Column& column, bool highest, std::vector<std::string>& steps) {
  const auto& v = column.ints;
  size_t best = 0;
  steps.push_back(grid.names[0] + " " + to_string(v[0]));
  for (size_t r = 1; r < grid.rows(); ++r) {
    steps.push_back(grid.names[r] + " " + to_string(v[r]) + (v[r] > v[best] ? ">" : v[r] < v[best] ? "<" : "=") +
                    to_string(v[best]));
    if (highest ? v[r] > v[best] : v[r] < v[best]) best = r;
  }
  for (size_t r = 0; r < grid.rows(); ++r)
    if (r != best && v[r] == v[best]) return std::nullopt;
  steps.push_back(std::string(highest ? "max " : "min ") + grid.names[best] + " " + to_string(v[best]));
  return best;
}

size_t random_index(Rng& rng, size_t n) { return static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(n) - 1)); }

std::optional<Problem> make_problem(Rng& rng, const Grid& grid, Kind kind, Surface surface) {
  std::vector<size_t> ints;
  for (size_t c = 0; c < grid.columns.size(); ++c)
    if (grid.columns[c].type == CellType::Int) ints.push_back(c);
  std::vector<std::string> steps;
  Problem problem;
  problem.meta = {{"kind", kind_name(kind)}};
  const std::string& key = grid.key;
  const bool highest = rng.bernoulli(0.5);
  const char op = rng.bernoulli(0.5) ? '>' : '<';

  switch (kind) {
    case Kind::Lookup: {
      const size_t column = random_index(rng, grid.columns.size()), row = random_index(rng, grid.rows());
      const Column& col = grid.columns[column];
      if (is_missing(col.cells[row])) return std::nullopt;
      problem.question = word(pool_of(kind), surface, rng, {{"col", col.name}, {"row", grid.names[row]}, {"key", key}});
      steps.push_back(grid.names[row] + " " + col.name + "=" + col.cells[row]);
      problem.answer = col.cells[row];
      problem.meta["column"] = col.name;
      problem.meta["row"] = row;
      break;
    }
    case Kind::Which: {
      const size_t column = random_index(rng, grid.columns.size()), row = random_index(rng, grid.rows());
      const Column& col = grid.columns[column];
      const std::string& target = col.cells[row];
      if (is_missing(target)) return std::nullopt;
      for (size_t r = 0; r < grid.rows(); ++r) {
        if (r != row && normalized_answer(col.cells[r]) == normalized_answer(target)) return std::nullopt;
        steps.push_back(grid.names[r] + " " + col.cells[r] + "=" + target + (r == row ? " y" : " n"));
      }
      problem.question = word(pool_of(kind), surface, rng, {{"col", col.name}, {"value", target}, {"key", key}});
      problem.answer = grid.names[row];
      problem.meta["column"] = col.name;
      problem.meta["row"] = row;
      break;
    }
    case Kind::Count: {
      const Column& col = grid.columns[pick(rng, ints)];
      const int threshold = random_threshold(rng, col);
      int count = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        const bool pass = passes(col.ints[r], op, threshold);
        count += pass;
        steps.push_back(grid.names[r] + " " + col.cells[r] + op + to_string(threshold) +
                        (pass ? " y" + to_string(count) : std::string(" n")));
      }
      steps.push_back("count " + to_string(count));
      problem.question = word(pool_of(kind), surface, rng,
                              {{"col", col.name}, {"op", std::string(1, op)}, {"threshold", to_string(threshold)}, {"key", key}});
      problem.answer = to_string(count);
      problem.meta["column"] = col.name;
      problem.meta["op"] = std::string(1, op);
      problem.meta["threshold"] = threshold;
      break;
    }
    case Kind::Extreme: {
      const Column& col = grid.columns[pick(rng, ints)];
      const std::optional<size_t> best = extreme_steps(grid, col, highest, steps);
      if (!best) return std::nullopt;
      problem.question =
          word(pool_of(kind), surface, rng, {{"col", col.name}, {"dir", highest ? "highest" : "lowest"}, {"key", key}});
      problem.answer = grid.names[*best];
      problem.meta["column"] = col.name;
      problem.meta["highest"] = highest;
      break;
    }
    case Kind::Sum: {
      const Column& col = grid.columns[pick(rng, ints)];
      int total = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        total += col.ints[r];
        steps.push_back(grid.names[r] + " +" + col.cells[r] + "=" + to_string(total));
      }
      problem.question = word(pool_of(kind), surface, rng, {{"col", col.name}, {"key", key}});
      problem.answer = to_string(total);
      problem.meta["column"] = col.name;
      break;
    }
    case Kind::FilterSum: {  // sums `col` over the rows where `other` passes
      size_t a = random_index(rng, ints.size()), b = random_index(rng, ints.size() - 1);
      if (b >= a) ++b;
      const Column& col = grid.columns[ints[a]];
      const Column& other = grid.columns[ints[b]];
      const int threshold = random_threshold(rng, other);
      int total = 0, passing = 0;
      for (size_t r = 0; r < grid.rows(); ++r) {
        std::string step = grid.names[r] + " " + other.cells[r] + op + to_string(threshold);
        if (passes(other.ints[r], op, threshold)) {
          total += col.ints[r];
          ++passing;
          step += " y +" + col.cells[r] + "=" + to_string(total);
        } else {
          step += " n";
        }
        steps.push_back(step);
      }
      if (passing == 0) return std::nullopt;
      problem.question = word(pool_of(kind), surface, rng,
                              {{"col", col.name}, {"other", other.name}, {"op", std::string(1, op)},
                               {"threshold", to_string(threshold)}, {"key", key}});
      problem.answer = to_string(total);
      problem.meta["column"] = col.name;
      problem.meta["other"] = other.name;
      problem.meta["op"] = std::string(1, op);
      problem.meta["threshold"] = threshold;
      break;
    }
    case Kind::ExtremeLookup: {  // the row with the extreme `other` (an integer column), then its `col` (any)
      const size_t o = pick(rng, ints);
      size_t c = random_index(rng, grid.columns.size() - 1);
      if (c >= o) ++c;
      const Column& other = grid.columns[o];
      const Column& col = grid.columns[c];
      const std::optional<size_t> best = extreme_steps(grid, other, highest, steps);
      if (!best || is_missing(col.cells[*best])) return std::nullopt;
      steps.push_back(grid.names[*best] + " " + col.name + "=" + col.cells[*best]);
      problem.question = word(pool_of(kind), surface, rng,
                              {{"col", col.name}, {"other", other.name}, {"dir", highest ? "highest" : "lowest"}, {"key", key}});
      problem.answer = col.cells[*best];
      problem.meta["column"] = col.name;
      problem.meta["other"] = other.name;
      problem.meta["highest"] = highest;
      problem.meta["row"] = *best;
      break;
    }
  }
  problem.reasoning = join(steps);
  return problem;
}

}  // namespace

std::string normalized_answer(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n\f\v");
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n\f\v");
  std::string out = text.substr(begin, end - begin + 1);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t estimated_tokens(const std::string& text) {
  size_t tokens = 0, letters = 0;
  const auto flush = [&] {
    tokens += (2 * letters + 2) / 3;
    letters = 0;
  };
  for (unsigned char c : text) {
    if (std::isalpha(c)) {
      ++letters;
      continue;
    }
    flush();
    if (c != ' ') ++tokens;  // digits are one token each; punctuation too; a space joins the next word
  }
  flush();
  return tokens;
}

size_t estimated_prompt_tokens(const Table& table, const std::string& question) {
  size_t tokens = 2 + estimated_tokens(question);  // table begin/end
  const auto row = [&](const std::vector<std::string>& cells) {
    for (const auto& cell : cells) tokens += 1 + estimated_tokens(cell);  // the cell separator and the cell
    tokens += 1;                                                          // the row end
  };
  row(table.header);
  for (const auto& r : table.rows) row(r);
  return tokens;
}

const std::vector<const WordingPool*>& table_wording_pools() {
  static const std::vector<const WordingPool*> pools = {
      &pool_of(Kind::Lookup), &pool_of(Kind::Which), &pool_of(Kind::Count), &pool_of(Kind::Extreme),
      &pool_of(Kind::Sum), &pool_of(Kind::FilterSum), &pool_of(Kind::ExtremeLookup)};
  return pools;
}

std::string TableTask::description() const {
  return "answer a question about a table with open-vocabulary cells (names, codes, numbers with units, "
         "dates, missing values): lookup, which-row, count-where, highest/lowest, sum, filter-then-sum; "
         "difficulty 1..3 = more rows, columns and steps";
}

Example TableTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  const Level& lv = level(difficulty);
  for (int attempt = 0; attempt < kMaxGenerateAttempts; ++attempt) {
    const Kind kind = pick(rng, lv.kinds);
    std::optional<Grid> grid = random_grid(rng, lv, kind, surface);
    if (!grid) continue;
    std::optional<Problem> problem = make_problem(rng, *grid, kind, surface);
    if (!problem || problem->reasoning.size() > kTableTraceMaxChars) continue;
    Table table = to_table(*grid);
    const size_t prompt_tokens = estimated_prompt_tokens(table, problem->question);
    if (prompt_tokens > kTablePromptMaxTokens ||
        prompt_tokens + estimated_tokens(problem->reasoning) + estimated_tokens(problem->answer) > kTableExampleMaxTokens)
      continue;
    check_table(table, "table task");
    Example example;
    example.task = name();
    example.difficulty = difficulty;
    example.prompt = {table_segment(std::move(table)), text_segment(problem->question)};
    example.reasoning = std::move(problem->reasoning);
    example.answer = std::move(problem->answer);
    example.meta = std::move(problem->meta);
    return example;
  }
  throw MuseError("table: no problem found at difficulty " + to_string(difficulty));
}

double TableTask::verify(const Example& example, const std::string& answer) const {
  return !example.answer.empty() && normalized_answer(answer) == normalized_answer(example.answer) ? 1.0 : 0.0;
}

}  // namespace muse

#include "data/tasks/mixed.h"

#include <cctype>

#include "data/render/canvas.h"
#include "data/tasks/arithmetic.h"
#include "data/tasks/chart.h"
#include "util/error.h"

namespace muse {

namespace {

using std::to_string;

constexpr int kNumberImageWidth = 64;
constexpr int kNumberImageHeight = 32;
constexpr int kDigitPitch = 16;  // two patch columns per digit
constexpr int kDigitScale = 2;

const std::vector<std::string>& bar_colors() {
  static const std::vector<std::string> names = {"red", "green", "blue", "orange", "purple"};
  return names;
}
const std::vector<std::string>& ink_colors() {
  static const std::vector<std::string> names = {"black", "blue", "red", "green", "purple"};
  return names;
}

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(items.size()) - 1))];
}

}  // namespace

const WordingPool& mixed_wordings(MixedWording which) {
  static const WordingPool cost_one = {
      {"How much do the {item} items cost in total?", "What do all the {item} items cost together?",
       "Total cost of the {item} items?", "What is the total price of the {item} items?",
       "How much would buying every {item} item cost?", "Find the total cost of the {item} items.",
       "Cost of all {item} items, in total?", "If you buy all the {item} items, what do you pay?"},
      {"Compute what the {item} items cost altogether.", "Altogether, the {item} items cost how much?",
       "What is the combined cost of the {item} items?", "Work out the bill for the {item} items."}};
  static const WordingPool cost_two = {
      {"How much do the {a} and {b} items cost in total?", "What do all the {a} and {b} items cost together?",
       "Total cost of the {a} and {b} items?", "What is the total price of the {a} and {b} items?",
       "How much would buying every {a} and {b} item cost?", "Find the total cost of the {a} and {b} items.",
       "Cost of all {a} and {b} items, in total?", "If you buy all the {a} and {b} items, what do you pay?"},
      {"Compute what the {a} and {b} items cost altogether.", "Altogether, the {a} and {b} items cost how much?",
       "What is the combined cost of the {a} and {b} items?", "Work out the bill for the {a} and {b} items."}};
  static const WordingPool add = {
      {"Add {n} to the number in the image.", "What is the number in the image plus {n}?",
       "Take the number shown and add {n}.", "The image shows a number; add {n} to it.",
       "Number in the picture + {n} = ?", "Increase the pictured number by {n}.",
       "What do you get adding {n} to the number in the image?", "Sum of the image's number and {n}?"},
      {"Read the number, then add {n}.", "Compute the displayed number plus {n}.",
       "Add {n} to what is written in the image.", "Raise the number in the image by {n}."}};
  static const WordingPool sub = {
      {"Subtract {n} from the number in the image.", "What is the number in the image minus {n}?",
       "Take the number shown and subtract {n}.", "The image shows a number; take {n} away from it.",
       "Number in the picture - {n} = ?", "Decrease the pictured number by {n}.",
       "What is left when {n} is subtracted from the number in the image?", "Difference of the image's number and {n}?"},
      {"Read the number, then subtract {n}.", "Compute the displayed number minus {n}.",
       "Take {n} from what is written in the image.", "Lower the number in the image by {n}."}};
  static const WordingPool mul = {
      {"Multiply the number in the image by {n}.", "What is the number in the image times {n}?",
       "Take the number shown and multiply it by {n}.", "The image shows a number; multiply it by {n}.",
       "Number in the picture * {n} = ?", "What is {n} times the pictured number?",
       "What do you get multiplying the number in the image by {n}?", "Product of the image's number and {n}?"},
      {"Read the number, then multiply by {n}.", "Compute the displayed number times {n}.",
       "Multiply what is written in the image by {n}.", "Scale the number in the image by {n}."}};
  switch (which) {
    case MixedWording::CostOne: return cost_one;
    case MixedWording::CostTwo: return cost_two;
    case MixedWording::Add: return add;
    case MixedWording::Sub: return sub;
    case MixedWording::Mul: return mul;
  }
  return cost_one;
}

namespace {

struct MixedSolution {
  std::string reasoning;
  std::string answer;
};

// Cost of the asked items: quantity (chart) times price (table), summed over one or two items.
MixedSolution solve_cost(const std::vector<std::string>& labels, const std::vector<int>& quantities,
                         const std::vector<int>& prices, const std::vector<std::string>& items) {
  if (labels.size() != quantities.size() || labels.size() != prices.size() || items.empty() || items.size() > 2)
    throw MuseError("mixed: malformed cost problem");
  std::vector<int> q, p;
  for (const auto& item : items) {
    size_t i = 0;
    while (i < labels.size() && labels[i] != item) ++i;
    if (i == labels.size()) throw MuseError("mixed: unknown item '" + item + "'");
    q.push_back(quantities[i]);
    p.push_back(prices[i]);
  }
  std::string reading, lookup, products;
  for (size_t k = 0; k < items.size(); ++k) {
    reading += (k ? " " : "") + items[k] + to_string(q[k]);
    lookup += " " + items[k] + to_string(p[k]);
    products += (k ? "|" : "") + to_string(q[k]) + "*" + to_string(p[k]) + "=" + to_string(q[k] * p[k]);
  }
  std::string reasoning = reading + "|price" + lookup + "|" + products;
  if (items.size() == 1) return {reasoning, to_string(q[0] * p[0])};
  const ArithmeticSolution sum = solve_arithmetic(q[0] * p[0], '+', q[1] * p[1]);
  return {reasoning + "|" + sum.reasoning, sum.answer};
}

MixedSolution solve_number(int64_t number, char op, int64_t operand) {
  const ArithmeticSolution solution = solve_arithmetic(number, op, operand);
  return {to_string(number) + "|" + solution.reasoning, solution.answer};
}

Example cost_problem(Rng& rng, int difficulty, Surface surface) {
  const int n = static_cast<int>(difficulty == 1 ? rng.uniform_int(3, 4) : rng.uniform_int(4, 6));
  std::vector<std::string> labels, color_names;
  std::vector<int> quantities, prices;
  std::vector<Color> colors;
  for (int c = 0; c < n; ++c) {
    labels.push_back(chart_label(c));
    quantities.push_back(static_cast<int>(rng.uniform_int(1, 9)));
    prices.push_back(static_cast<int>(rng.uniform_int(1, 9)));
    color_names.push_back(pick(rng, bar_colors()));
    colors.push_back(color_by_name(color_names.back()));
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < labels.size(); ++i) order.push_back(i);
  if (difficulty >= 2) rng.shuffle(order);
  Table table;
  table.header = {"item", "price"};
  for (size_t i : order) table.rows.push_back({labels[i], to_string(prices[i])});

  std::vector<std::string> items;
  const size_t first = static_cast<size_t>(rng.uniform_int(0, n - 1));
  items.push_back(labels[first]);
  if (difficulty >= 2 && rng.uniform_int(0, 2) > 0) {
    const size_t second = (first + 1 + static_cast<size_t>(rng.uniform_int(0, n - 2))) % static_cast<size_t>(n);
    items.push_back(labels[second]);
  }
  const std::string question =
      items.size() == 1 ? word(mixed_wordings(MixedWording::CostOne), surface, rng, {{"item", items[0]}})
                        : word(mixed_wordings(MixedWording::CostTwo), surface, rng, {{"a", items[0]}, {"b", items[1]}});
  MixedSolution solution = solve_cost(labels, quantities, prices, items);

  Example example;
  example.prompt = {image_segment(render_chart(quantities, ChartStyle::Bar, colors)), table_segment(std::move(table)),
                    text_segment(question)};
  example.reasoning = std::move(solution.reasoning);
  example.answer = std::move(solution.answer);
  example.meta = {{"kind", "cost"}, {"labels", labels}, {"values", quantities}, {"colors", color_names},
                  {"prices", prices}, {"items", items}};
  return example;
}

Example number_problem(Rng& rng, int difficulty, Surface surface) {
  int64_t number = 0, operand = 0;
  char op = '+';
  if (difficulty == 1) {
    op = rng.bernoulli(0.5) ? '+' : '-';
    number = rng.uniform_int(1, 99);
    operand = rng.uniform_int(1, op == '+' ? 99 : number);
  } else {
    op = "+-*"[rng.uniform_int(0, 2)];
    if (op == '*') {
      number = rng.uniform_int(10, 99);
      operand = rng.uniform_int(2, 9);
    } else {
      number = rng.uniform_int(100, 999);
      operand = rng.uniform_int(1, op == '+' ? 999 : number);
    }
  }
  const std::string digits = to_string(number);
  const int slots = kNumberImageWidth / 8 - 2 * static_cast<int>(digits.size());  // leftmost patch columns that fit
  const int x = 8 * static_cast<int>(rng.uniform_int(0, slots));
  const int y = 8 * static_cast<int>(rng.uniform_int(0, kNumberImageHeight / 8 - 2));
  const std::string color_name = pick(rng, ink_colors());

  Canvas canvas(kNumberImageWidth, kNumberImageHeight);
  for (size_t i = 0; i < digits.size(); ++i)
    canvas.draw_text(x + kDigitPitch * static_cast<int>(i) + 3, y + 1, digits.substr(i, 1), color_by_name(color_name),
                     kDigitScale);

  const MixedWording wording = op == '+' ? MixedWording::Add : op == '-' ? MixedWording::Sub : MixedWording::Mul;
  const std::string question = word(mixed_wordings(wording), surface, rng, {{"n", to_string(operand)}});
  MixedSolution solution = solve_number(number, op, operand);

  Example example;
  example.prompt = {image_segment(canvas.take()), text_segment(question)};
  example.reasoning = std::move(solution.reasoning);
  example.answer = std::move(solution.answer);
  example.meta = {{"kind", "number"}, {"number", number},  {"op", std::string(1, op)}, {"operand", operand},
                  {"x", x},           {"y", y},            {"color", color_name}};
  return example;
}

}  // namespace

std::string MixedTask::description() const {
  return "combine two modalities: chart quantities times table prices, or arithmetic on a number read from an "
         "image; difficulty = items and number sizes";
}

Example MixedTask::generate(Rng& rng, int difficulty, Surface surface) const {
  check_difficulty(*this, difficulty);
  Example example = rng.bernoulli(0.5) ? cost_problem(rng, difficulty, surface) : number_problem(rng, difficulty, surface);
  example.task = name();
  example.difficulty = difficulty;
  return example;
}

double MixedTask::verify(const Example& example, const std::string& answer) const {
  std::string expected;
  try {
    const auto& meta = example.meta;
    const std::string kind = meta.at("kind").get<std::string>();
    if (kind == "cost") {
      expected = solve_cost(meta.at("labels").get<std::vector<std::string>>(), meta.at("values").get<std::vector<int>>(),
                            meta.at("prices").get<std::vector<int>>(), meta.at("items").get<std::vector<std::string>>())
                     .answer;
    } else if (kind == "number") {
      const std::string op = meta.at("op").get<std::string>();
      if (op.size() != 1) return 0.0;
      expected = solve_number(meta.at("number").get<int64_t>(), op[0], meta.at("operand").get<int64_t>()).answer;
    } else {
      return 0.0;
    }
  } catch (const std::exception&) {
    return 0.0;  // malformed meta: nothing can be right
  }
  return !expected.empty() && trim_answer(answer) == expected ? 1.0 : 0.0;
}

}  // namespace muse

// Arithmetic tasks: "add", "sub", "mul", and "arith" (one of the three at random per problem).
//
// Difficulty is the number of digits of the longer operand (add/sub 1..8, mul and arith 1..5); the other
// operand has any length from 1 up to it (uniform), and either may come first. Operands are uniform over the
// numbers with exactly their digit count (1 digit: 0..9). The answer is the exact result in canonical decimal
// ("-38" when negative).
//
// Prompts are worded from a pool (arithmetic_wordings): the bare form "47+85", with spaces, with a trailing
// "=", as a question or an instruction in words ("What is 47 plus 85?", "Add 47 and 85."; mul also "47 x 85"),
// 14-16 trained templates per operator and a disjoint held-out pool of 7-8 that training never sees.
// problem_key is the bare form, so the train/held-out split of problems does not depend on the wording.
//
// Reasoning traces first restate the problem in canonical form, whatever the wording: sums and differences
// with the shorter operand zero-padded to the longer's digits ("1234+0056"), products as given ("1234*56").
// Then they work column by column from the least significant digit, one step per '|'-separated field, and
// always end with "=<answer>". Every digit is its own token. Columns are FIXED WIDTH: all columns of a trace
// span the same number of tokens (no part is dropped when it is 0), so the distance from a column back to its
// digits in the restatement is constant, which a small model learns much faster than a lookup whose offset
// depends on earlier carries or on where the wording put the numbers.
//   add  47+85    47+85|7+5+0=12|4+8+1=13|=132
//        Column: each term's digit (0 past its end), "+" the carry in (always, even 0), "=" the column sum
//        zero-padded to the digit count of 10*terms (2 digits for 2..9 terms): 1+2 gives "1+2|1+2+0=03|=3".
//        The carry out is the sum's leading digit(s); it is not written separately.
//        1234+56  1234+0056|4+6+0=10|3+5+1=09|2+0+0=02|1+0+0=01|=1290
//   sub  85-47    85-47|5-7-0=8 b1|8-4-1=3 b0|=38
//        Column: top digit, "-" bottom digit, "-" borrow in (0/1), "=" result digit, " b" borrow out (0/1).
//        47-85    47-85|85>47 so -(85-47)|5-7-0=8 b1|8-4-1=3 b0|=-38
//        A negative result is announced first (operands padded as in the restatement), then the larger minus
//        the smaller is worked out.
//   mul  99*999   99*999|99*9=891|99*9=891 <<1 =8910|99*9=891 <<2 =89100|1+0+0+0=01|9+1+0+0=10|8+9+1+1=19|
//                 0+8+9+1=18|0+0+8+1=09|=98901
//        One partial product per digit of the second operand (" <<k =..." shifts it k places), then the
//        partials are summed in the add column format, one digit per partial in partial order. A one-digit
//        second operand has a single partial and no sum: 4*7 gives "4*7|4*7=28|=28".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/task.h"

namespace muse {

enum class ArithmeticOp { Add, Sub, Mul, Mixed };

class ArithmeticTask : public Task {
 public:
  explicit ArithmeticTask(ArithmeticOp op) : op_(op) {}

  std::string name() const override;
  std::string description() const override;
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override;
  using Task::generate;
  Example generate(Rng& rng, int difficulty, Surface surface) const override;
  // 1.0 when the trimmed answer is exactly the reference integer (canonical decimal: no '+', no leading zeros).
  double verify(const Example& example, const std::string& answer) const override;

 private:
  ArithmeticOp op_;
};

// The reference trace and answer for `a op b`, op one of '+', '-', '*', with non-negative operands.
struct ArithmeticSolution {
  std::string reasoning;
  std::string answer;
};
ArithmeticSolution solve_arithmetic(int64_t a, char op, int64_t b);

// The add task's column format over any number of non-negative terms (no restatement):
// {47, 85} -> "7+5+0=12|4+8+1=13|=132".
std::string column_sum_trace(const std::vector<int64_t>& terms);

// The prompt templates for one operator ('+', '-', '*'; slots {a} {op} {b} {opword}).
const WordingPool& arithmetic_wordings(char op);

}  // namespace muse

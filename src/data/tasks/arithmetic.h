// Arithmetic tasks: "add", "sub", "mul", and "arith" (one of the three at random per problem).
//
// Difficulty is the number of digits of each operand (add/sub 1..8, mul and arith 1..5). Operands are uniform
// over the numbers with exactly that many digits (1 digit: 0..9). The prompt is "47+85", "47-85" or "47*85";
// the answer is the exact result in canonical decimal ("-38" when negative).
//
// Reasoning traces work column by column from the least significant digit, one step per '|'-separated field,
// and always end with "=<answer>". Every digit is its own token. Columns are FIXED WIDTH: all columns of a
// trace span the same number of tokens (no part is dropped when it is 0), so the distance from a column back
// to its digits in the prompt is constant, which a small model learns much faster than a lookup whose offset
// depends on earlier carries.
//   add  47+85    7+5+0=12|4+8+1=13|=132
//        Column: each term's digit (0 past its end), "+" the carry in (always, even 0), "=" the column sum
//        zero-padded to the digit count of 10*terms (2 digits for 2..9 terms): 1+2 gives "1+2+0=03|=3".
//        The carry out is the sum's leading digit(s); it is not written separately.
//   sub  85-47    5-7-0=8 b1|8-4-1=3 b0|=38
//        Column: top digit, "-" bottom digit, "-" borrow in (0/1), "=" result digit, " b" borrow out (0/1).
//        47-85    85>47 so -(85-47)|5-7-0=8 b1|8-4-1=3 b0|=-38
//        A negative result is announced first, then the larger minus the smaller is worked out.
//   mul  99*999   99*9=891|99*9=891 <<1 =8910|99*9=891 <<2 =89100|1+0+0+0=01|9+1+0+0=10|8+9+1+1=19|
//                 0+8+9+1=18|0+0+8+1=09|=98901
//        One partial product per digit of the second operand (" <<k =..." shifts it k places), then the
//        partials are summed in the add column format, one digit per partial in partial order. A one-digit
//        second operand has a single partial and no sum: 4*7 gives "4*7=28|=28".
#pragma once
#include <cstdint>
#include <string>

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
  Example generate(Rng& rng, int difficulty) const override;
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

}  // namespace muse

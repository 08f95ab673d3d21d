// Arithmetic tasks: "add", "sub", "mul", and "arith" (one of the three at random per problem).
//
// Difficulty is the number of digits of each operand (add/sub 1..8, mul and arith 1..5). Operands are uniform
// over the numbers with exactly that many digits (1 digit: 0..9). The prompt is "47+85", "47-85" or "47*85";
// the answer is the exact result in canonical decimal ("-38" when negative).
//
// Reasoning traces work column by column from the least significant digit, one step per '|'-separated field,
// and always end with "=<answer>". Every digit is its own token, so the format spends tokens only on the
// digits a model must carry from step to step:
//   add  47+85    7+5=12 c1|4+8+1=13 c1|=132
//        Column: the digits, "+c" for the carry in, "=" the column sum, " cK" when it carries K out.
//   sub  85-47    15-7=8 b1|8-4-1=3|=38
//        Column: the top digit (prefixed with "1" when it borrows), "-" the bottom digit, "-1" for the borrow
//        in, "=" the difference, " b1" when it borrowed.
//        47-85    85>47 so -(85-47)|15-7=8 b1|8-4-1=3|=-38
//        A negative result is announced first, then the larger minus the smaller is worked out.
//   mul  47*85    47*5=235|47*8=376 <<1 =3760|5+0=5|3+6=9|2+7=9|0+3=3|=3995
//        One partial product per digit of the second operand (" <<k =..." shifts it k places), then the
//        partials are summed in the addition column format: one digit per partial (0 where it has none), in
//        partial order. With several partials a carry can exceed 1, e.g. "...+2=23 c2".
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

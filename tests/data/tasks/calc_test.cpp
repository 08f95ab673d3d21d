#include "data/tasks/calc.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

int digits(const nlohmann::json& v) { return static_cast<int>(std::to_string(v.get<int64_t>()).size()); }

TEST(CalcTask, StartsWhereTheHeadStopsAndCallsTheCalculatorOnTheBareProblem) {
  CalcTask task;
  Rng rng(4);
  const int add_min[] = {5, 9, 13}, mul_min[] = {4, 6, 8}, add_max[] = {8, 12, 18}, mul_max[] = {5, 7, 9};
  for (int d = 1; d <= 3; ++d)
    for (int i = 0; i < 200; ++i) {
      const Example e = task.generate(rng, d);
      const std::string op = e.meta["op"];
      const int longer = std::max(digits(e.meta["a"]), digits(e.meta["b"]));
      EXPECT_GE(longer, op == "*" ? mul_min[d - 1] : add_min[d - 1]) << e.problem_key;
      EXPECT_LE(longer, op == "*" ? mul_max[d - 1] : add_max[d - 1]) << e.problem_key;
      ASSERT_EQ(e.tool_calls.size(), 1u);
      EXPECT_EQ(e.tool_calls[0].name, "calculator");
      EXPECT_EQ(e.tool_calls[0].at, 0u);
      EXPECT_EQ("calc " + e.tool_calls[0].arguments["expression"].get<std::string>(), e.problem_key);
      EXPECT_EQ(e.reasoning, "=" + e.answer);
      // The answer is exact (checked in 128-bit arithmetic).
      const __int128 a = e.meta["a"].get<int64_t>(), b = e.meta["b"].get<int64_t>();
      const __int128 value = op == "+" ? a + b : op == "-" ? a - b : a * b;
      __int128 from_answer = 0;
      const bool negative = e.answer[0] == '-';
      for (size_t k = negative ? 1 : 0; k < e.answer.size(); ++k) from_answer = from_answer * 10 + (e.answer[k] - '0');
      EXPECT_TRUE((negative ? -from_answer : from_answer) == value) << e.problem_key << " = " << e.answer;
      EXPECT_EQ(task.verify(e, " " + e.answer + "\n"), 1.0);
      EXPECT_EQ(task.verify(e, e.answer + "0"), 0.0);
    }
  EXPECT_THROW(task.generate(rng, 4), MuseError);
}

}  // namespace
}  // namespace muse

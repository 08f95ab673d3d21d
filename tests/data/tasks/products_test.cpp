#include "data/tasks/products.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"
#include "util/rng.h"

namespace muse {
namespace {

TEST(ProductsTask, TracesSplitTheSumIntoProductsForSubAgentsOrWorkItInTheHead) {
  const auto t = products_traces({{23, 41}, {57, 18}});
  EXPECT_EQ(t.bare, "23*41+57*18");
  EXPECT_EQ(t.tasks, (std::vector<std::string>{"23*41", "57*18"}));
  EXPECT_EQ(t.answers, (std::vector<std::string>{"943", "1026"}));
  EXPECT_EQ(t.answer, "1969");
  EXPECT_EQ(t.after_spawn, "0943+1026|3+6+0=09|4+2+0=06|9+0+0=09|0+1+0=01|=1969");
  EXPECT_EQ(t.solo.rfind("23*41+57*18|(1)23*41|", 0), 0u) << t.solo;
  EXPECT_NE(t.solo.find("|=943|(2)57*18|"), std::string::npos) << t.solo;
  EXPECT_NE(t.solo.find("|=1026|0943+1026|"), std::string::npos) << t.solo;

  ProductsTask task;
  Rng rng(3);
  int spawned = 0, solo = 0;
  for (int d = 1; d <= 3; ++d)
    for (int i = 0; i < 200; ++i) {
      const Example e = task.generate(rng, d);
      ASSERT_EQ(e.meta["products"].size(), static_cast<size_t>(d + 1));
      int64_t total = 0;
      for (const auto& p : e.meta["products"]) {
        EXPECT_GE(p[0].get<int64_t>(), 10);
        EXPECT_LE(p[1].get<int64_t>(), 99);
        total += p[0].get<int64_t>() * p[1].get<int64_t>();
      }
      EXPECT_EQ(e.answer, std::to_string(total));
      EXPECT_EQ(task.verify(e, " " + e.answer + "\n"), 1.0);
      EXPECT_EQ(task.verify(e, e.answer + "0"), 0.0);
      EXPECT_EQ(e.reasoning.substr(e.reasoning.size() - e.answer.size() - 1), "=" + e.answer);
      if (e.tool_calls.empty()) {
        ++solo;
        continue;
      }
      ++spawned;
      const auto& call = e.tool_calls[0];
      EXPECT_EQ(call.name, kSpawnTool);
      EXPECT_TRUE(call.filled);
      ASSERT_EQ(call.arguments["tasks"].size(), static_cast<size_t>(d + 1));
      ASSERT_EQ(call.result.size(), static_cast<size_t>(d + 1));
      EXPECT_EQ(e.reasoning.substr(0, call.at), e.problem_key.substr(9) + "|");  // "products " + bare
    }
  EXPECT_GT(spawned, 300);  // 2 in 3
  EXPECT_GT(solo, 120);
  EXPECT_THROW(task.generate(rng, 4), MuseError);
  validate_wordings("products", products_wordings());
}

}  // namespace
}  // namespace muse

#include "data/surface.h"

#include <gtest/gtest.h>

#include <set>

#include "util/error.h"

namespace muse {
namespace {

TEST(Surface, FillReplacesSlotsAndKeepsLiteralBraces) {
  EXPECT_EQ(fill_wording("{a}+{b}= {{x}}", {{"a", "3"}, {"b", "4"}}), "3+4= {x}");
  EXPECT_THROW(fill_wording("{c}", {{"a", "3"}}), MuseError);
  EXPECT_THROW(fill_wording("{a", {{"a", "3"}}), MuseError);
}

TEST(Surface, DecorationsVaryBothSidesAndStripBack) {
  Rng rng(7);
  std::set<std::string> trained, heldout;
  int bare = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string t = decorate("What is 3+4?", Surface::Trained, rng);
    const std::string h = decorate("What is 3+4?", Surface::Heldout, rng);
    EXPECT_EQ(undecorated(t), "What is 3+4?") << t;
    EXPECT_EQ(undecorated(h), "What is 3+4?") << h;
    bare += t == "What is 3+4?";
    trained.insert(t);
    heldout.insert(h);
  }
  // About (3/4)^2 of prompts stay bare, so the plain forms (the README's examples) stay the commonest.
  EXPECT_GT(bare, 1000);
  EXPECT_LT(bare, 1250);
  EXPECT_GT(trained.size(), 40u);
  // Training never sees a held-out decoration: only the bare prompt is in both.
  for (const auto& h : heldout)
    if (h != "What is 3+4?") EXPECT_EQ(trained.count(h), 0u) << h;
}

TEST(Surface, UndecoratedLeavesUndecoratedTextAlone) {
  EXPECT_EQ(undecorated("target 24 from 3 7 8 2"), "target 24 from 3 7 8 2");
  EXPECT_EQ(undecorated("Q: "), "Q: ");  // never strips a prompt down to nothing
}

}  // namespace
}  // namespace muse

#include "data/task.h"

#include <set>

#include <gtest/gtest.h>

#include "util/error.h"

namespace muse {
namespace {

// What splits are hashed on: the problem's key, or the prompt's text plus digests of its images and tables.
std::string prompt_of(const Example& example) {
  return example.problem_key.empty() ? segments_key(example.prompt) : example.problem_key;
}

TEST(SegmentsKey, IsTheTextForTextAndDigestsImagesAndTables) {
  EXPECT_EQ(segments_key({text_segment("12+"), text_segment("34")}), "12+34");
  const auto white = image_segment(make_image(4, 4));
  auto dot = make_image(4, 4);
  dot.pixel(2, 1)[0] = 0;
  const auto one_pixel = image_segment(dot);
  EXPECT_NE(segments_key({white, text_segment("q")}), segments_key({one_pixel, text_segment("q")}));
  EXPECT_EQ(segments_key({white}), segments_key({image_segment(make_image(4, 4))}));
  EXPECT_NE(segments_key({white}), segments_key({image_segment(make_image(2, 8))}));  // same bytes, other shape
  Table a{{"k", "v"}, {{"x", "1"}}}, b{{"k", "v"}, {{"x1", ""}}};
  EXPECT_NE(segments_key({table_segment(a)}), segments_key({table_segment(b)}));  // cell boundaries count
  EXPECT_EQ(segments_key({table_segment(a)}), segments_key({table_segment(Table{{"k", "v"}, {{"x", "1"}}})}));
}

TEST(SplitOf, IsFnv1aOfThePromptModuloTen) {
  // Pinned against an independent FNV-1a implementation: splits must never move between builds.
  EXPECT_EQ(split_of(""), Split::Train);      // 14695981039346656037 % 10 == 7
  EXPECT_EQ(split_of("a"), Split::Train);     // 0xaf63dc4c8601ec8c % 10 == 6
  EXPECT_EQ(split_of("8+8"), Split::Heldout);
  EXPECT_EQ(split_of("13+13"), Split::Heldout);
  EXPECT_EQ(split_of("7+7"), Split::Train);
}

TEST(SplitOf, HoldsOutAboutATenth) {
  int heldout = 0;
  const int total = 20000;
  for (int i = 0; i < total; ++i) heldout += split_of("prompt " + std::to_string(i)) == Split::Heldout;
  EXPECT_NEAR(heldout / static_cast<double>(total), 0.1, 0.01);
}

TEST(Registry, KnowsEveryTaskByName) {
  const std::vector<std::string> expected = {"add",  "sub",  "mul",  "arith", "calc",  "countdown",
                                             "count", "read", "chart", "grid", "table", "mixed", "products"};
  EXPECT_EQ(task_names(), expected);
  for (const auto& name : task_names()) {
    auto task = make_task(name);
    EXPECT_EQ(task->name(), name);
    EXPECT_FALSE(task->description().empty());
    EXPECT_LE(task->min_difficulty(), task->max_difficulty());
  }
}

TEST(Registry, UnknownTaskNamesTheKnownOnes) {
  try {
    make_task("foo");
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_STREQ(e.what(),
                 "unknown task 'foo' (known: add, sub, mul, arith, calc, countdown, count, read, chart, grid, table, mixed, "
                 "products)");
  }
}

TEST(EveryTask, ReferenceAnswersVerifyAtEveryDifficulty) {
  for (const auto& name : task_names()) {
    auto task = make_task(name);
    Rng rng(seed_mix(1, name.size()));
    for (int difficulty = task->min_difficulty(); difficulty <= task->max_difficulty(); ++difficulty) {
      for (int i = 0; i < 200; ++i) {
        const Example example = task->generate(rng, difficulty);
        ASSERT_EQ(example.task, name);
        ASSERT_EQ(example.difficulty, difficulty);
        ASSERT_FALSE(prompt_of(example).empty());
        ASSERT_FALSE(example.reasoning.empty());
        ASSERT_EQ(task->verify(example, example.answer), 1.0) << name << ": " << prompt_of(example);
        ASSERT_EQ(task->verify(example, ""), 0.0);
      }
    }
  }
}

TEST(EveryTask, DifficultyOutsideTheRangeThrows) {
  for (const auto& name : task_names()) {
    auto task = make_task(name);
    Rng rng(0);
    EXPECT_THROW(task->generate(rng, task->min_difficulty() - 1), MuseError) << name;
    EXPECT_THROW(task->generate(rng, task->max_difficulty() + 1), MuseError) << name;
    EXPECT_THROW(task->sample(rng, task->max_difficulty() + 1, Split::Train), MuseError) << name;
  }
}

TEST(Sample, SplitsAreDisjointAndDeterministic) {
  for (const auto& name : task_names()) {
    auto task = make_task(name);
    const int difficulty = task->min_difficulty() + 1;
    Rng rng(7);
    std::set<std::string> train, heldout;
    for (int i = 0; i < 1000; ++i) {
      const Example example = task->sample(rng, difficulty, Split::Train);
      ASSERT_EQ(split_of(example), Split::Train);
      train.insert(prompt_of(example));
    }
    for (int i = 0; i < 300; ++i) {
      const Example example = task->sample(rng, difficulty, Split::Heldout);
      ASSERT_EQ(split_of(example), Split::Heldout);
      ASSERT_EQ(train.count(prompt_of(example)), 0u) << name << ": " << prompt_of(example);
      heldout.insert(prompt_of(example));
    }
    EXPECT_GT(heldout.size(), 1u) << name;  // held-out problems vary, not one prompt over and over

    Rng first(99), second(99);
    for (int i = 0; i < 50; ++i) {
      const Example a = task->sample(first, difficulty, Split::Heldout);
      const Example b = task->sample(second, difficulty, Split::Heldout);
      ASSERT_EQ(prompt_of(a), prompt_of(b));
      ASSERT_EQ(a.reasoning, b.reasoning);
      ASSERT_EQ(a.answer, b.answer);
    }
  }
}

TEST(Sample, GeneratedProblemsAreAboutTenPercentHeldOut) {
  for (const auto& name : task_names()) {
    auto task = make_task(name);
    Rng rng(3);
    int heldout = 0;
    const int total = 5000;
    for (int i = 0; i < total; ++i)
      heldout += split_of(prompt_of(task->generate(rng, task->max_difficulty()))) == Split::Heldout;
    EXPECT_NEAR(heldout / static_cast<double>(total), 0.1, 0.02) << name;
  }
}

// A task with a single prompt, which is in the train split: asking it for a held-out problem must fail loudly.
class SinglePromptTask : public Task {
 public:
  std::string name() const override { return "single"; }
  std::string description() const override { return "always the same prompt"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 1; }
  Example generate(Rng&, int difficulty, Surface) const override {
    check_difficulty(*this, difficulty);
    Example example;
    example.prompt = {text_segment("a")};
    return example;
  }
  double verify(const Example&, const std::string&) const override { return 0.0; }
};

TEST(Sample, ThrowsWhenTheSplitHasNoProblems) {
  SinglePromptTask task;
  Rng rng(0);
  EXPECT_EQ(prompt_of(task.sample(rng, 1, Split::Train)), "a");
  try {
    task.sample(rng, 1, Split::Heldout);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("task 'single': no held-out problem found at difficulty 1"),
              std::string::npos)
        << e.what();
  }
}

TEST(CheckDifficulty, NamesTheTaskAndTheRange) {
  SinglePromptTask task;
  try {
    check_difficulty(task, 2);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_STREQ(e.what(), "task 'single': difficulty 2 is outside 1..1");
  }
}

}  // namespace
}  // namespace muse

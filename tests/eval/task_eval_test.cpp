// Evaluation: the image-blind baseline, and the shipped model's answers depending on what its pixels show.
#include "eval/task_eval.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "model/weights.h"
#include "util/rng.h"

using namespace muse;

namespace {

std::string shipped_model_dir() { return std::string(MUSE_SOURCE_DIR) + "/models/default"; }

// The shipped default, if it is a model that reads images (it is since the multimodal recipe).
const LoadedModel* shipped_vision_model() {
  static const LoadedModel* model = [] () -> const LoadedModel* {
    const auto dir = shipped_model_dir();
    if (!std::filesystem::exists(dir + "/config.json")) return nullptr;
    auto* loaded = new LoadedModel(load_model_dir(dir, torch::kCPU));
    return loaded->config.sees_images() ? loaded : nullptr;
  }();
  return model;
}

// Greedy answers to held-out problems, with each prompt's patches passed through `edit` first.
std::vector<std::string> answers(const LoadedModel& m, const std::vector<Example>& problems,
                                 const std::function<void(TokenSequence&, Rng&)>& edit) {
  Generator generator(m.model, torch::kCPU);
  RenderOptions options;
  options.vision = vision_params(m.config);
  std::vector<TokenSequence> prompts;
  Rng rng(17);
  for (const auto& example : problems) {
    prompts.push_back(render_prompt(m.tokenizer, example.prompt, options));
    if (edit) edit(prompts.back(), rng);
  }
  const std::vector<int> stops = {m.tokenizer.special(Special::EndOfTurn), m.tokenizer.eos()};
  std::vector<std::string> out;
  for (const auto& result : generator.generate_greedy_batch(prompts, 64, stops))
    out.push_back(parse_reply(m.tokenizer, result.tokens).answer);
  return out;
}

std::vector<Example> heldout_count_problems(int n) {
  const auto task = make_task("count");
  Rng rng(2024);
  std::vector<Example> problems;
  for (int i = 0; i < n; ++i) problems.push_back(task->sample(rng, 1, Split::Heldout));
  return problems;
}

}  // namespace

TEST(BlankImages, ReplacesEveryImageWithAWhiteOneOfTheSameSize) {
  auto dot = make_image(5, 3, 0, 0, 0);
  const std::vector<Segment> prompt = {text_segment("a"), image_segment(dot), text_segment("b")};
  const auto blank = blank_images_of(prompt);
  ASSERT_EQ(blank.size(), 3u);
  EXPECT_EQ(blank[0].text, "a");
  EXPECT_EQ(blank[2].text, "b");
  ASSERT_EQ(blank[1].kind, SegmentKind::Image);
  EXPECT_EQ(blank[1].image->width, 5);
  EXPECT_EQ(blank[1].image->height, 3);
  EXPECT_TRUE(std::all_of(blank[1].image->rgb.begin(), blank[1].image->rgb.end(), [](uint8_t v) { return v == 255; }));
  EXPECT_EQ(prompt[1].image->rgb[0], 0);  // the original is untouched
}

// The test that the model sees what the pixels say: on held-out count problems, blanking the image or
// shuffling its patches (same pixels, wrong places) must change the answers, and the real image must score
// clearly above the blank one.
TEST(ShippedModel, CountAnswersDependOnThePixels) {
  const auto* model = shipped_vision_model();
  if (!model) GTEST_SKIP() << "models/default is text-only";
  const auto task = make_task("count");
  const auto problems = heldout_count_problems(120);
  const auto seen = answers(*model, problems, {});
  const auto blind = answers(*model, problems, [&](TokenSequence& seq, Rng&) {
    std::fill(seq.patches.begin(), seq.patches.end(), 1.0f);  // a white image: every byte 255
  });
  const auto shuffled = answers(*model, problems, [&](TokenSequence& seq, Rng& rng) {
    const size_t n = seq.patch_count(), dim = static_cast<size_t>(seq.patch_dim);
    std::vector<float> copy = seq.patches;
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[static_cast<size_t>(rng.uniform_int(0, i))]);
    for (size_t i = 0; i < n; ++i)
      std::copy_n(copy.begin() + static_cast<ptrdiff_t>(order[i] * dim), dim,
                  seq.patches.begin() + static_cast<ptrdiff_t>(i * dim));
  });
  int correct = 0, correct_blind = 0, changed_blind = 0, changed_shuffled = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    correct += task->verify(problems[i], seen[i]) == 1.0;
    correct_blind += task->verify(problems[i], blind[i]) == 1.0;
    changed_blind += blind[i] != seen[i];
    changed_shuffled += shuffled[i] != seen[i];
  }
  const double n = static_cast<double>(problems.size());
  std::printf("count@1 held-out: seen %.1f%%, blank image %.1f%%; answers changed by blanking %.1f%%, by shuffling "
              "patches %.1f%%\n", 100 * correct / n, 100 * correct_blind / n, 100 * changed_blind / n,
              100 * changed_shuffled / n);
  EXPECT_GE(correct / n, correct_blind / n + 0.25);
  EXPECT_GE(changed_blind / n, 0.3);
  EXPECT_GE(changed_shuffled / n, 0.2);
}

// The model's math: KV-cached decoding equals full recomputation, rotary positions behave as designed,
// weights round-trip through safetensors exactly.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/fused_ops.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "util/error.h"
#include "util/test_dirs.h"

using namespace muse;

namespace {

ModelConfig small_config(int64_t kv_heads = 4, bool qk_norm = false) {
  ModelConfig c = preset_config("tiny");
  c.vocab_size = 97;
  c.n_layers = 2;
  c.n_kv_heads = kv_heads;
  c.qk_norm = qk_norm;
  c.max_seq_len = 64;
  return c;
}

Transformer random_model(const ModelConfig& c, uint64_t seed = 3) {
  torch::manual_seed(seed);
  Transformer model(c);
  // The zero-initialised head would make every logit 0: randomise everything for a meaningful comparison.
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  model->eval();
  return model;
}

torch::Tensor random_tokens(int64_t batch, int64_t length, int64_t vocab, uint64_t seed = 5) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {batch, length}, torch::kInt64);
}

}  // namespace

class CachedDecoding : public ::testing::TestWithParam<std::tuple<int64_t, bool>> {};

TEST_P(CachedDecoding, MatchesFullRecomputation) {
  const auto [kv_heads, qk_norm] = GetParam();
  const auto config = small_config(kv_heads, qk_norm);
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const int64_t B = 3, T = 24, prefill = 9;
  const auto tokens = random_tokens(B, T, config.vocab_size);
  const auto positions = text_positions(0, T, torch::kCPU).expand({B, T, 3});
  const auto full = model->forward({tokens, positions});

  auto cache = KVCache::allocate(config, B, T, torch::kCPU);
  std::vector<torch::Tensor> pieces;
  pieces.push_back(model->forward({tokens.narrow(1, 0, prefill), positions.narrow(1, 0, prefill)}, &cache));
  for (int64_t t = prefill; t < T; ++t)
    pieces.push_back(model->forward({tokens.narrow(1, t, 1), positions.narrow(1, t, 1)}, &cache));
  const auto cached = torch::cat(pieces, 1);
  EXPECT_EQ(cache.length, T);
  EXPECT_LT((cached - full).abs().max().item<double>(), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Model, CachedDecoding,
                         ::testing::Values(std::make_tuple(int64_t{4}, false), std::make_tuple(int64_t{2}, false),
                                           std::make_tuple(int64_t{1}, true)));

TEST(Model, CacheOverflowIsAnError) {
  const auto config = small_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  auto cache = KVCache::allocate(config, 1, 4, torch::kCPU);
  const auto tokens = random_tokens(1, 5, config.vocab_size);
  EXPECT_THROW(model->forward({tokens, text_positions(0, 5, torch::kCPU)}, &cache), MuseError);
}

TEST(Model, LogitsDependOnlyOnRelativePositions) {
  // Packed training rows count positions from 0 wherever a document starts: this is only sound because
  // rotary attention sees position differences, so a global shift must not change any logit.
  const auto config = small_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const auto tokens = random_tokens(2, 16, config.vocab_size);
  const auto a = model->forward({tokens, text_positions(0, 16, torch::kCPU).expand({2, 16, 3})});
  const auto b = model->forward({tokens, text_positions(37, 16, torch::kCPU).expand({2, 16, 3})});
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
}

TEST(Model, PositionsChangeTheOutput) {
  // Sanity check on the test above: permuting positions (not shifting) must matter.
  const auto config = small_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const auto tokens = random_tokens(1, 8, config.vocab_size);
  auto positions = text_positions(0, 8, torch::kCPU);
  const auto a = model->forward({tokens, positions});
  const auto b = model->forward({tokens, positions * 3});
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
}

TEST(Rotary, MatchesLlamaAdjacentPairFormula) {
  // x' [2i] = x[2i] cos(p w_i) - x[2i+1] sin(p w_i); x'[2i+1] = x[2i] sin + x[2i+1] cos; w_i = theta^(-2i/d).
  const int64_t d = 8, T = 5;
  torch::manual_seed(1);
  const auto x = torch::randn({1, T, 1, d});
  std::vector<float> expected(static_cast<size_t>(T * d));
  auto angles = torch::empty({1, T, 1, d / 2});
  for (int64_t p = 0; p < T; ++p)
    for (int64_t i = 0; i < d / 2; ++i) {
      const double w = std::pow(10000.0, -2.0 * static_cast<double>(i) / d);
      angles[0][p][0][i] = static_cast<float>(p * w);
      const double c = std::cos(p * w), s = std::sin(p * w);
      const double x0 = x[0][p][0][2 * i].item<double>(), x1 = x[0][p][0][2 * i + 1].item<double>();
      expected[static_cast<size_t>(p * d + 2 * i)] = static_cast<float>(x0 * c - x1 * s);
      expected[static_cast<size_t>(p * d + 2 * i + 1)] = static_cast<float>(x0 * s + x1 * c);
    }
  const auto out = rotate_pairs(x, torch::polar(torch::ones_like(angles), angles)).contiguous();
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_NEAR(out.data_ptr<float>()[k], expected[k], 1e-5);
}

TEST(Rotary, MultimodalSectionsFollowTheirAxis) {
  // With M-RoPE, changing only the row coordinate rotates only the row section's pairs; text (t=row=col)
  // reduces to plain 1D RoPE.
  ModelConfig c = small_config();
  const int64_t pairs = c.head_dim() / 2;
  const auto sections = c.mrope_sections;
  ASSERT_EQ(sections[0] + sections[1] + sections[2], pairs);
  torch::manual_seed(0);
  Transformer model(c);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  // Probe the rotary angles through the public forward: identical tokens, positions differing in row only,
  // must give different logits (row section active) while t-only changes on a 1-token input give none
  // (a single token attends only to itself, so rotation cancels in q.k).
  const auto token = torch::tensor({{5}}, torch::kInt64);
  auto p1 = torch::tensor({{{3, 3, 3}}}, torch::kInt64);
  auto p2 = torch::tensor({{{9, 1, 4}}}, torch::kInt64);
  const auto single_a = model->forward({token, p1});
  const auto single_b = model->forward({token, p2});
  EXPECT_LT((single_a - single_b).abs().max().item<double>(), 1e-5);

  const auto tokens = torch::tensor({{5, 6}}, torch::kInt64);
  const auto same_row = torch::tensor({{{0, 0, 0}, {1, 0, 0}}}, torch::kInt64);
  const auto next_row = torch::tensor({{{0, 0, 0}, {1, 1, 0}}}, torch::kInt64);
  const auto next_col = torch::tensor({{{0, 0, 0}, {1, 0, 1}}}, torch::kInt64);
  const auto a = model->forward({tokens, same_row});
  const auto b = model->forward({tokens, next_row});
  const auto cc = model->forward({tokens, next_col});
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-4) << "row coordinate ignored";
  EXPECT_GT((a - cc).abs().max().item<double>(), 1e-4) << "col coordinate ignored";
  EXPECT_GT((b - cc).abs().max().item<double>(), 1e-4) << "row and col share rotary pairs";
}

TEST(Model, ParameterCountMatchesModules) {
  for (bool qk : {false, true}) {
    auto c = small_config(2, qk);
    Transformer model(c);
    int64_t total = 0;
    for (const auto& p : model->parameters()) total += p.numel();
    EXPECT_EQ(total, c.parameter_count());
  }
  EXPECT_LE(preset_config("tiny").parameter_count(), 1'025'000);  // ~1M: 984k text + 25k patch projection
}

TEST(Model, ReLU2AndTiedEmbeddingsChangeTheModulesAndTheCount) {
  auto c = small_config(2, true);
  c.ffn_activation = FfnActivation::ReLU2;
  c.tie_embeddings = true;
  Transformer model(c);
  int64_t total = 0;
  for (const auto& p : model->parameters()) total += p.numel();
  EXPECT_EQ(total, c.parameter_count());
  const auto names = model->named_parameters();
  EXPECT_EQ(names.find("lm_head.weight"), nullptr);
  EXPECT_EQ(names.find("layers.0.w_gate.weight"), nullptr);
  EXPECT_NE(names.find("layers.0.w_up.weight"), nullptr);
  EXPECT_TRUE(model->output_weight().is_same(model->embed->weight));
  // The tied head follows the embedding: changing one changes the logits.
  model->eval();
  torch::NoGradGuard no_grad;
  const auto tokens = random_tokens(1, 6, c.vocab_size);
  const auto positions = text_positions(0, 6, torch::kCPU);
  for (auto& p : model->parameters()) p.normal_(0.0, 0.2);
  const auto before = model->forward({tokens, positions});
  model->embed->weight.narrow(0, 0, 1).add_(1.0);
  const auto after = model->forward({tokens, positions});
  EXPECT_GT((before - after).select(2, 0).abs().max().item<double>(), 1e-3);
  // Both fields round-trip; configs written before them load as SwiGLU, untied.
  nlohmann::json j = c;
  EXPECT_EQ(j.at("ffn_activation"), "relu2");
  const auto back = model_config_from_json(j, "new/config.json");
  EXPECT_EQ(back.ffn_activation, FfnActivation::ReLU2);
  EXPECT_TRUE(back.tie_embeddings);
  j.erase("ffn_activation");
  j.erase("tie_embeddings");
  const auto old = model_config_from_json(j, "old/config.json");
  EXPECT_EQ(old.ffn_activation, FfnActivation::SwiGLU);
  EXPECT_FALSE(old.tie_embeddings);
  j["ffn_activation"] = "gelu";
  try {
    model_config_from_json(j, "bad/config.json");
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad/config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ffn_activation"), std::string::npos) << msg;
    EXPECT_NE(msg.find("relu2"), std::string::npos) << msg;
  }
}

TEST(Model, ZeroInitialisedProjectionsStartEveryBlockAsTheIdentity) {
  for (bool zero : {true, false}) {
    auto c = small_config();
    c.zero_init_projections = zero;
    Transformer model(c);
    for (const auto& item : model->named_parameters()) {
      const bool projection = item.key().find(".wo.") != std::string::npos ||
                              item.key().find(".w_down.") != std::string::npos;
      if (!projection) continue;
      EXPECT_EQ(item.value().abs().max().item<double>() == 0.0, zero) << item.key();
    }
  }
}

TEST(Model, LogitSoftCapBoundsTheLogits) {
  auto c = small_config();
  c.logit_softcap = 0.5;
  auto model = random_model(c, 5);
  torch::NoGradGuard no_grad;
  const auto logits = model->forward({random_tokens(2, 9, c.vocab_size), text_positions(0, 9, torch::kCPU).expand({2, 9, 3})});
  EXPECT_LE(logits.abs().max().item<double>(), 0.5);
  c.logit_softcap = 0.0;
  auto uncapped = random_model(c, 5);
  const auto raw = uncapped->forward({random_tokens(2, 9, c.vocab_size), text_positions(0, 9, torch::kCPU).expand({2, 9, 3})});
  EXPECT_GT(raw.abs().max().item<double>(), 0.5) << "the test needs logits beyond the cap";
  c.logit_softcap = -1.0;
  EXPECT_THROW(c.validate(), MuseError);
}

TEST(Model, ConfigValidationNamesTheField) {
  auto c = small_config();
  c.n_heads = 3;
  try {
    c.validate();
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("n_heads"), std::string::npos);
  }
  EXPECT_THROW(preset_config("huge"), MuseError);
}

TEST(Weights, RoundTripGivesIdenticalLogits) {
  const auto config = small_config(2, true);
  auto a = random_model(config, 11);
  auto b = random_model(config, 12);
  const auto path = test::scratch_path("muse_weights_test") + ".safetensors";
  save_module_weights(*a, path);
  load_module_weights(*b, path);
  torch::NoGradGuard no_grad;
  const auto tokens = random_tokens(1, 10, config.vocab_size);
  const auto positions = text_positions(0, 10, torch::kCPU);
  EXPECT_TRUE(torch::equal(a->forward({tokens, positions}), b->forward({tokens, positions})));
}

TEST(Weights, MismatchedModelIsAClearError) {
  const auto path = test::scratch_path("muse_weights_mismatch") + ".safetensors";
  auto config = small_config();
  auto a = random_model(config);
  save_module_weights(*a, path);
  config.ffn_hidden = 256;
  Transformer other(config);
  try {
    load_module_weights(*other, path);
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("w_gate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shape"), std::string::npos) << msg;
  }
}

// ---- Image patches ---------------------------------------------------------------------------------------------

namespace {

constexpr int64_t kPatchToken = 5;

ModelConfig vision_config() {
  ModelConfig c = small_config();
  c.patch_size = 2;  // 12 floats per patch keeps the test small
  c.patch_token_id = kPatchToken;
  return c;
}

}  // namespace

TEST(ModelImages, PatchPixelsReplaceThePatchTokenEmbeddings) {
  const auto config = vision_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  // Token ids: 1 2 P P 3 P 4, with three patches.
  const auto tokens = torch::tensor({1, 2, 5, 5, 3, 5, 4}, torch::kInt64).view({1, 7});
  const auto positions = text_positions(0, 7, torch::kCPU);
  torch::manual_seed(1);
  const auto patches = torch::rand({3, config.patch_dim()}) * 2 - 1;
  const auto with = model->forward({tokens, positions, {}, patches});
  // Before the first patch nothing changes; at and after it the pixels matter.
  const auto without = model->forward({tokens, positions});
  EXPECT_TRUE(torch::allclose(with.slice(1, 0, 2), without.slice(1, 0, 2)));
  EXPECT_GT((with.slice(1, 2) - without.slice(1, 2)).abs().max().item<double>(), 1e-3);
  // Patch order is the order of appearance: swapping two patches changes the output from the first swap on.
  const auto swapped = model->forward({tokens, positions, {}, patches.index_select(0, torch::tensor({1, 0, 2}))});
  EXPECT_GT((with.slice(1, 2) - swapped.slice(1, 2)).abs().max().item<double>(), 1e-3);
  // Identical patches in identical order give identical logits (the placement is deterministic).
  EXPECT_TRUE(torch::equal(with, model->forward({tokens, positions, {}, patches.clone()})));
}

TEST(ModelImages, BatchedPatchesFollowRowMajorOrder) {
  const auto config = vision_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const auto row0 = torch::tensor({1, 5, 2, 5}, torch::kInt64).view({1, 4});
  const auto row1 = torch::tensor({5, 3, 4, 2}, torch::kInt64).view({1, 4});
  const auto positions = text_positions(0, 4, torch::kCPU);
  torch::manual_seed(2);
  const auto patches = torch::rand({3, config.patch_dim()});
  const auto a = model->forward({row0, positions, {}, patches.slice(0, 0, 2)});
  const auto b = model->forward({row1, positions, {}, patches.slice(0, 2, 3)});
  const auto both = model->forward({torch::cat({row0, row1}), positions.expand({2, 4, 3}), {}, patches});
  EXPECT_TRUE(torch::allclose(both[0], a[0], 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(both[1], b[0], 1e-5, 1e-5));
}

TEST(ModelImages, PatchCountMismatchAndTextOnlyModelsAreClearErrors) {
  auto config = vision_config();
  auto model = random_model(config);
  torch::NoGradGuard no_grad;
  const auto tokens = torch::tensor({1, 5, 5}, torch::kInt64).view({1, 3});
  const auto positions = text_positions(0, 3, torch::kCPU);
  try {
    model->forward({tokens, positions, {}, torch::zeros({1, config.patch_dim()})});
    FAIL() << "expected MuseError";
  } catch (const MuseError& e) {
    EXPECT_NE(std::string(e.what()).find("2 <|patch|> tokens but 1 patches"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model->forward({tokens, positions, {}, torch::zeros({2, 7})}), MuseError);
  config.patch_size = 0;
  auto text_only = random_model(config);
  EXPECT_THROW(text_only->forward({tokens, positions, {}, torch::zeros({2, 12})}), MuseError);
}

TEST(ModelImages, ConfigsWithoutImageFieldsLoadAsTextOnly) {
  nlohmann::json j = small_config();
  j.erase("patch_size");
  j.erase("max_image_patches");
  j.erase("patch_token_id");
  const auto c = model_config_from_json(j, "old/config.json");
  EXPECT_FALSE(c.sees_images());
  EXPECT_EQ(Transformer(c)->named_parameters().find("patch_proj.weight"), nullptr);
}

TEST(ModelImages, PatchPositionEmbeddingsTellAPatchWhereItIs) {
  // One patch alone: attention to itself sees no relative distance, so without row/column embeddings its output
  // cannot depend on where it sits in its image; with them it must (the value carries the place).
  torch::NoGradGuard no_grad;
  const auto tokens = torch::tensor({kPatchToken}, torch::kInt64).view({1, 1});
  torch::manual_seed(3);
  const auto pixels = torch::rand({1, vision_config().patch_dim()});
  auto at = [&](Transformer& model, int64_t row, int64_t col) {
    const auto positions = torch::tensor({int64_t{10}, 10 + row, 10 + col}, torch::kInt64).view({1, 1, 3});
    return model->forward({tokens, positions, {}, pixels});
  };
  auto with_config = vision_config();
  with_config.patch_position_embeddings = true;
  auto with = random_model(with_config);
  EXPECT_GT((at(with, 0, 0) - at(with, 2, 0)).abs().max().item<double>(), 1e-4);
  EXPECT_GT((at(with, 0, 0) - at(with, 0, 3)).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::allclose(at(with, 1, 2), at(with, 1, 2)));
  auto without_config = vision_config();
  without_config.patch_position_embeddings = false;
  auto without = random_model(without_config);
  EXPECT_TRUE(torch::allclose(at(without, 0, 0), at(without, 2, 3), 1e-5, 1e-5));
  // Counted as parameters: one row and one column table of max_image_patches entries each.
  EXPECT_EQ(with_config.parameter_count() - without_config.parameter_count(),
            2 * with_config.max_image_patches * with_config.d_model);
}

TEST(ModelImages, ConfigsWithoutPatchPositionsLoadWithoutThem) {
  nlohmann::json j = vision_config();
  j.erase("patch_position_embeddings");
  const auto c = model_config_from_json(j, "old/config.json");
  EXPECT_FALSE(c.patch_position_embeddings) << "models written before the field have none";
  EXPECT_EQ(Transformer(c)->named_parameters().find("patch_row.weight"), nullptr);
  auto with = vision_config();
  with.patch_position_embeddings = true;
  EXPECT_NE(Transformer(with)->named_parameters().find("patch_row.weight"), nullptr);
}

// Pretraining batches from a weighted mixture of tasks (and user text), generated on the fly.
// A batch is a pure function of (seed, step, micro-step): resuming at step k needs no data cursor beyond k,
// and every run with the same seed sees the same tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "data/task.h"
#include "tokenizer/chat_format.h"

namespace muse {

struct MixtureEntry {
  std::string task;        // a task name, or "text" for user documents
  int min_difficulty = 1;
  int max_difficulty = 1;
  double weight = 1.0;
};

// "add:1-2:1,countdown:3-4:0.5" (difficulty range and weight optional: "add" = its min difficulty, weight 1).
// MuseError names the bad entry.
std::vector<MixtureEntry> parse_mixture(const std::string& spec);
std::string mixture_to_string(const std::vector<MixtureEntry>& mixture);

struct Batch {
  at::Tensor tokens;     // [B, T] int64
  at::Tensor targets;    // [B, T] int64, -1 where no loss
  at::Tensor positions;  // [B, T, 3] int64, counting from 0 at each document start
  at::Tensor document_ids;  // [B, T] int64: attention stays within a document
  at::Tensor patches;       // [N, patch_dim] float: pixels of the <|patch|> inputs in row-major order (N may be 0)
  int64_t target_tokens = 0;
};

class PretrainData {
 public:
  // `split` picks train problems or held-out ones (for eval loss); text documents are used as given.
  // `prompt_loss` = false trains task examples on the reply only (reasoning, answer), not the random prompt.
  // `vision` must match the model's patch settings (vision_params(config)).
  PretrainData(const Tokenizer& tokenizer, std::vector<MixtureEntry> mixture, std::vector<std::string> text_docs,
               Split split = Split::Train, bool prompt_loss = true, VisionParams vision = {});
  // Documents are packed back to back into rows of seq_len + 1 tokens (inputs and shifted targets); attention
  // is masked to each document, so packing never lets one problem peek at another.
  Batch batch(uint64_t seed, int64_t step, int64_t micro, int64_t batch_size, int64_t seq_len) const;
  // One rendered document (task example or user text) drawn from the mixture.
  TokenSequence document(Rng& rng) const;
  const std::vector<MixtureEntry>& mixture() const { return mixture_; }

 private:
  const MixtureEntry& pick(Rng& rng) const;
  Example example_for(const MixtureEntry& entry, Rng& rng) const;
  const Tokenizer* tokenizer_;
  std::vector<MixtureEntry> mixture_;
  std::vector<std::unique_ptr<Task>> tasks_;  // parallel to mixture_ (null for "text")
  std::vector<std::string> text_docs_;
  double total_weight_ = 0.0;
  Split split_;
  bool prompt_loss_;
  VisionParams vision_;
};

// For training the tokenizer before a Tokenizer exists: plain texts of examples from the mixture.
std::vector<std::string> mixture_corpus(const std::vector<MixtureEntry>& mixture,
                                        const std::vector<std::string>& text_docs, int documents, uint64_t seed);

}  // namespace muse

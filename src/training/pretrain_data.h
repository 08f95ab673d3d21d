// Pretraining batches from a weighted mixture of tasks (and user text), generated on the fly.
// A batch is a pure function of (seed, step, micro-step): resuming at step k needs no data cursor beyond k,
// and every run with the same seed sees the same tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "data/jsonl.h"
#include "data/task.h"
#include "tokenizer/chat_format.h"

namespace muse {

struct MixtureEntry {
  std::string task;        // a task name, "text" for user documents or "chat" for user conversations
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

struct DataOptions {
  Split split = Split::Train;  // train problems, or held-out ones (for eval loss); also splits user conversations
  bool prompt_loss = false;    // true: task examples train on their random prompts too, not just the reply
  VisionParams vision;         // must match the model's patch settings (vision_params(config))
  // Supervised fine-tuning: this share of task examples is dressed as a chat (a system prompt, 0-2 earlier
  // solved exchanges with their reasoning dropped) and trained on the final reply only.
  double chat_share = 0.0;
  // This share of task examples has its reasoning cut at a uniformly random character (possibly to nothing),
  // the answer unchanged: the situation a thinking budget creates when it forces the end of thinking.
  double budget_cut_share = 0.0;
  // The forced <|/think|> of a cut example carries no loss (the budget chose it, not the model), so the model
  // does not learn to end its thinking early by choice. True trains it like a chosen one: the behaviour before
  // 2026-12-01, kept to measure the difference (docs/LOG.md).
  bool train_cut_think_end = false;
  // This share of the chat-dressed examples gets a system prompt asking for JSON and the answer
  // {"answer": VALUE} (an integer where the answer is one, else a string) after the same reasoning: what an API
  // response_format asks for. The constraint writes the braces; this teaches which value follows the key.
  double json_answer_share = 0.0;
};

// The system prompts fine-tuning dresses task examples with (held-out evaluation uses others).
const std::vector<std::string>& training_system_prompts();
// The system prompts of DataOptions::json_answer_share's examples, and the answer they get: {"answer": 936}
// for an integer answer, {"answer": "text"} otherwise.
const std::vector<std::string>& json_answer_system_prompts();
std::string json_answer(const std::string& answer);

class PretrainData {
 public:
  // Text documents are used as given; user conversations are split train/held-out by a hash of their text.
  PretrainData(const Tokenizer& tokenizer, std::vector<MixtureEntry> mixture, std::vector<std::string> text_docs,
               std::vector<ChatConversation> chats = {}, DataOptions options = {});
  // Documents are packed back to back into rows of seq_len + 1 tokens (inputs and shifted targets); attention
  // is masked to each document, so packing never lets one problem peek at another. A document cut at a row's
  // start (one that would fit a row) has no targets in that row: its reply would be trained without its prompt.
  Batch batch(uint64_t seed, int64_t step, int64_t micro, int64_t batch_size, int64_t seq_len) const;
  // One rendered document (task example or user text) drawn from the mixture.
  TokenSequence document(Rng& rng) const;
  const std::vector<MixtureEntry>& mixture() const { return mixture_; }

 private:
  const MixtureEntry& pick(Rng& rng) const;
  Example example_for(const MixtureEntry& entry, Rng& rng) const;
  // The example a document trains on: example_for, its reasoning cut short with probability budget_cut_share.
  Example trained_example(const MixtureEntry& entry, Rng& rng) const;
  TokenSequence dressed_example(const MixtureEntry& entry, Rng& rng) const;
  TokenSequence chat_document(Rng& rng) const;
  const Tokenizer* tokenizer_;
  std::vector<MixtureEntry> mixture_;
  std::vector<std::unique_ptr<Task>> tasks_;  // parallel to mixture_ (null for "text" and "chat")
  std::vector<std::string> text_docs_;
  std::vector<ChatConversation> chats_;       // of this split only
  double total_weight_ = 0.0;
  DataOptions options_;
};

// For training the tokenizer before a Tokenizer exists: plain texts of examples from the mixture.
std::vector<std::string> mixture_corpus(const std::vector<MixtureEntry>& mixture,
                                        const std::vector<std::string>& text_docs, int documents, uint64_t seed);

}  // namespace muse

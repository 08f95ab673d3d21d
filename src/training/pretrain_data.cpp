#include "training/pretrain_data.h"

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/tool_format.h"
#include "tools/trace_tools.h"
#include "util/error.h"

namespace muse {
namespace {

int parse_int(const std::string& s, const std::string& entry) {
  try {
    size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  throw MuseError("mixture entry '" + entry + "': '" + s + "' is not an integer");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, sep)) parts.push_back(part);
  return parts;
}

// The text a tokenizer should learn from an example: prompt text, table cells, reasoning and answer.
std::string example_plain_text(const Example& ex) {
  std::string text;
  for (const auto& segment : ex.prompt) {
    if (segment.kind == SegmentKind::Text) text += segment.text;
    if (segment.kind == SegmentKind::Table) text += to_csv(*segment.table);
  }
  std::string reasoning = ex.reasoning;
  // Tool-call bodies are text the model writes: the tokenizer learns their JSON as well.
  for (auto it = ex.tool_calls.rbegin(); it != ex.tool_calls.rend(); ++it)
    reasoning.insert(std::min(it->at, reasoning.size()), " " + tool_call_body(it->name, it->arguments) + " ");
  return text + "\n" + reasoning + "\n" + ex.answer;
}

}  // namespace

std::vector<MixtureEntry> parse_mixture(const std::string& spec) {
  std::vector<MixtureEntry> mixture;
  for (const auto& entry : split(spec, ',')) {
    if (entry.empty()) continue;
    const auto fields = split(entry, ':');
    if (fields.empty() || fields.size() > 3 || fields[0].empty())
      throw MuseError("mixture entry '" + entry + "': expected TASK[:MIN-MAX][:WEIGHT]");
    MixtureEntry m;
    m.task = fields[0];
    if (m.task != "text" && m.task != "chat") {
      const auto task = make_task(m.task);  // validates the name
      m.min_difficulty = m.max_difficulty = task->min_difficulty();
      if (fields.size() >= 2 && !fields[1].empty()) {
        const auto range = split(fields[1], '-');
        if (range.size() == 1) m.min_difficulty = m.max_difficulty = parse_int(range[0], entry);
        else if (range.size() == 2) {
          m.min_difficulty = parse_int(range[0], entry);
          m.max_difficulty = parse_int(range[1], entry);
        } else throw MuseError("mixture entry '" + entry + "': difficulty must be N or MIN-MAX");
      }
      if (m.min_difficulty > m.max_difficulty || m.min_difficulty < task->min_difficulty() ||
          m.max_difficulty > task->max_difficulty())
        throw MuseError("mixture entry '" + entry + "': difficulty range must lie within [" +
                        std::to_string(task->min_difficulty()) + ", " + std::to_string(task->max_difficulty()) +
                        "] for task " + m.task);
    }
    if (fields.size() == 3) {
      try {
        m.weight = std::stod(fields[2]);
      } catch (const std::exception&) {
        throw MuseError("mixture entry '" + entry + "': weight '" + fields[2] + "' is not a number");
      }
      if (!(m.weight > 0)) throw MuseError("mixture entry '" + entry + "': weight must be > 0");
    }
    mixture.push_back(m);
  }
  if (mixture.empty()) throw MuseError("empty data mixture");
  return mixture;
}

std::string mixture_to_string(const std::vector<MixtureEntry>& mixture) {
  std::string out;
  for (const auto& m : mixture) {
    if (!out.empty()) out += ",";
    out += m.task;
    if (m.task != "text" && m.task != "chat")
      out += ":" + std::to_string(m.min_difficulty) + "-" + std::to_string(m.max_difficulty);
    std::ostringstream w;
    w << m.weight;
    out += ":" + w.str();
  }
  return out;
}

const std::vector<std::string>& training_system_prompts() {
  static const std::vector<std::string> prompts = {
      "You are Muse. Think step by step, then answer.",
      "You are a helpful assistant.",
      "Answer the user's question.",
      "You are Muse, a careful reasoning model.",
      "Show your work in the thinking span; keep the answer short.",
      "Reply with the answer only after reasoning.",
  };
  return prompts;
}

PretrainData::PretrainData(const Tokenizer& tokenizer, std::vector<MixtureEntry> mixture,
                           std::vector<std::string> text_docs, std::vector<ChatConversation> chats, DataOptions options)
    : tokenizer_(&tokenizer), mixture_(std::move(mixture)), text_docs_(std::move(text_docs)), options_(options) {
  for (auto& conversation : chats)
    if (conversation_split(conversation) == options_.split) chats_.push_back(std::move(conversation));
  for (const auto& m : mixture_) {
    if (m.task == "text" && text_docs_.empty())
      throw MuseError("mixture has a 'text' entry but no text documents were given (--text FILE.jsonl)");
    if (m.task == "chat" && chats_.empty())
      throw MuseError(chats.empty() ? "mixture has a 'chat' entry but no conversations were given (--chat FILE.jsonl)"
                                    : std::string("mixture has a 'chat' entry but no conversation falls in the ") +
                                          (options_.split == Split::Train ? "train" : "held-out") +
                                          " split (give more than a handful)");
    tasks_.push_back(m.task == "text" || m.task == "chat" ? nullptr : make_task(m.task));
    total_weight_ += m.weight;
  }
}

const MixtureEntry& PretrainData::pick(Rng& rng) const {
  double r = rng.uniform() * total_weight_;
  for (const auto& m : mixture_) {
    r -= m.weight;
    if (r < 0) return m;
  }
  return mixture_.back();
}

Example PretrainData::example_for(const MixtureEntry& entry, Rng& rng) const {
  const size_t index = static_cast<size_t>(&entry - mixture_.data());
  const int difficulty = static_cast<int>(rng.uniform_int(entry.min_difficulty, entry.max_difficulty));
  Example example = tasks_[index]->sample(rng, difficulty, options_.split);
  run_trace_tools(example, options_.vision);
  return example;
}

Example PretrainData::trained_example(const MixtureEntry& entry, Rng& rng) const {
  Example example = example_for(entry, rng);
  // No draw at all when off, so runs without budget cuts keep their exact data streams.
  if (options_.budget_cut_share > 0 && rng.bernoulli(options_.budget_cut_share)) {
    const auto keep = static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(example.reasoning.size())));
    example.reasoning_cut = keep < example.reasoning.size() && !options_.train_cut_think_end;
    example.reasoning.resize(keep);
    // Calls past the cut were never made.
    auto& calls = example.tool_calls;
    calls.erase(std::remove_if(calls.begin(), calls.end(), [&](const TraceToolCall& c) { return c.at > keep; }),
                calls.end());
  }
  return example;
}

const std::vector<std::string>& json_answer_system_prompts() {
  static const std::vector<std::string> prompts = {
      "Reply in JSON: {\"answer\": ...}.",
      "Answer with a JSON object whose \"answer\" field holds the result.",
      "You are Muse. Respond only with JSON of the form {\"answer\": value}.",
      "Output format: JSON, one key \"answer\".",
  };
  return prompts;
}

std::string json_answer(const std::string& answer) {
  // An integer (no leading zeros, at most 18 digits so it parses as int64) stays a JSON number, what a schema
  // of type integer wants; anything else is a string.
  const size_t digits_from = !answer.empty() && answer[0] == '-' ? 1 : 0;
  const size_t digits = answer.size() - digits_from;
  const bool integer = digits >= 1 && digits <= 18 &&
                       std::all_of(answer.begin() + digits_from, answer.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                       (digits == 1 || answer[digits_from] != '0') && answer != "-0";
  if (integer) return "{\"answer\": " + answer + "}";
  return nlohmann::json{{"answer", answer}}.dump();
}

TokenSequence PretrainData::dressed_example(const MixtureEntry& entry, Rng& rng) const {
  const auto& prompts = training_system_prompts();
  const bool with_system = rng.bernoulli(0.7);
  std::string system = with_system ? prompts[static_cast<size_t>(rng.uniform_int(0, prompts.size() - 1))] : "";
  std::vector<Example> earlier;
  for (int64_t i = rng.uniform_int(0, 2); i > 0; --i) earlier.push_back(example_for(entry, rng));
  RenderOptions options;
  options.vision = options_.vision;
  options.keep_history_thinking = false;  // what `muse chat --history` sends
  options.train_final_turn_only = true;   // earlier answers without reasoning must not be imitated
  Example example = trained_example(entry, rng);
  // No draw at all when off, so runs without JSON answers keep their exact data streams.
  if (options_.json_answer_share > 0 && rng.bernoulli(options_.json_answer_share)) {
    const auto& json_prompts = json_answer_system_prompts();
    system = json_prompts[static_cast<size_t>(rng.uniform_int(0, json_prompts.size() - 1))];
    example.answer = json_answer(example.answer);
    for (auto& turn : earlier) turn.answer = json_answer(turn.answer);  // the same format all conversation long
  }
  return render_conversation(*tokenizer_, example_conversation(example, earlier, system, true), false, options);
}

TokenSequence PretrainData::chat_document(Rng& rng) const {
  RenderOptions options;
  options.vision = options_.vision;
  const auto& conversation = chats_[static_cast<size_t>(rng.uniform_int(0, chats_.size() - 1))];
  return render_conversation(*tokenizer_, conversation_messages(conversation), false, options);
}

TokenSequence PretrainData::document(Rng& rng) const {
  const auto& entry = pick(rng);
  if (entry.task == "text") {
    TokenSequence seq;
    seq.append_token(tokenizer_->bos(), true);
    seq.append_text(*tokenizer_, text_docs_[static_cast<size_t>(rng.uniform_int(0, text_docs_.size() - 1))], true);
    seq.append_token(tokenizer_->eos(), true);
    return seq;
  }
  if (entry.task == "chat") return chat_document(rng);
  if (options_.chat_share > 0 && rng.bernoulli(options_.chat_share)) return dressed_example(entry, rng);
  RenderOptions options;
  options.train_on_all_tokens = options_.prompt_loss;
  options.vision = options_.vision;
  return render_example(*tokenizer_, trained_example(entry, rng), options);
}

Batch PretrainData::batch(uint64_t seed, int64_t step, int64_t micro, int64_t batch_size, int64_t seq_len) const {
  Rng rng(seed_mix(seed, static_cast<uint64_t>(step), static_cast<uint64_t>(micro)));
  const int64_t row = seq_len + 1;
  const int64_t needed = batch_size * row;
  std::vector<int64_t> tokens, documents, document_starts;
  std::vector<std::array<int32_t, 3>> doc_positions;
  std::vector<uint8_t> mask;
  std::vector<int64_t> patch_of;  // per token: index of its patch in `patches`, or -1
  std::vector<float> patches;
  const int patch_dim = options_.vision.patch_dim();
  for (int64_t doc_index = 0; static_cast<int64_t>(tokens.size()) < needed; ++doc_index) {
    const auto doc = document(rng);
    document_starts.push_back(static_cast<int64_t>(tokens.size()));
    tokens.insert(tokens.end(), doc.tokens.begin(), doc.tokens.end());
    mask.insert(mask.end(), doc.loss_mask.begin(), doc.loss_mask.end());
    documents.insert(documents.end(), doc.size(), doc_index);
    doc_positions.insert(doc_positions.end(), doc.positions.begin(), doc.positions.end());
    const int patch_id = tokenizer_->special(Special::ImagePatch);
    int64_t next_patch = static_cast<int64_t>(patches.size() / static_cast<size_t>(patch_dim));
    for (int id : doc.tokens) patch_of.push_back(id == patch_id ? next_patch++ : -1);
    patches.insert(patches.end(), doc.patches.begin(), doc.patches.end());
  }
  Batch b;
  b.tokens = at::empty({batch_size, seq_len}, at::kLong);
  b.targets = at::empty({batch_size, seq_len}, at::kLong);
  b.document_ids = at::empty({batch_size, seq_len}, at::kLong);
  b.positions = at::empty({batch_size, seq_len, 3}, at::kLong);
  auto* in = b.tokens.data_ptr<int64_t>();
  auto* out = b.targets.data_ptr<int64_t>();
  auto* doc = b.document_ids.data_ptr<int64_t>();
  auto* pos = b.positions.data_ptr<int64_t>();
  std::vector<int64_t> used_patches;  // patches of the input tokens, in row-major order
  for (int64_t r = 0; r < batch_size; ++r) {
    for (int64_t t = 0; t < seq_len; ++t) {
      const size_t i = static_cast<size_t>(r * row + t);
      const int64_t k = r * seq_len + t;
      in[k] = tokens[i];
      doc[k] = documents[i];
      // A document cut at the row start keeps its own positions (relative distances are what matter).
      for (int axis = 0; axis < 3; ++axis) pos[3 * k + axis] = doc_positions[i][axis];
      if (patch_of[i] >= 0) used_patches.push_back(patch_of[i]);
      // The target is the next token of the same document; the first token of the next one is not predicted.
      // The tail of a document cut at the row start is not trained either (unless the document is longer
      // than a row and could never fit): without its prompt, its reply would teach answering a problem the
      // model cannot see.
      const auto d = static_cast<size_t>(documents[i]);
      const int64_t doc_end = d + 1 < document_starts.size() ? document_starts[d + 1]
                                                             : static_cast<int64_t>(tokens.size());
      const bool whole = document_starts[d] >= r * row || doc_end - document_starts[d] > row;
      const bool trained = mask[i + 1] != 0 && documents[i + 1] == documents[i] && whole;
      out[k] = trained ? tokens[i + 1] : -1;
      b.target_tokens += trained ? 1 : 0;
    }
  }
  b.patches = at::empty({static_cast<int64_t>(used_patches.size()), patch_dim}, at::kFloat);
  float* dst = b.patches.data_ptr<float>();
  for (int64_t p : used_patches)
    dst = std::copy_n(patches.data() + p * patch_dim, patch_dim, dst);
  return b;
}

std::vector<std::string> mixture_corpus(const std::vector<MixtureEntry>& mixture,
                                        const std::vector<std::string>& text_docs, int documents, uint64_t seed) {
  std::vector<std::string> corpus(text_docs.begin(), text_docs.end());
  double total = 0.0;
  for (const auto& m : mixture) total += m.task == "text" || m.task == "chat" ? 0.0 : m.weight;
  Rng rng(seed);
  for (const auto& m : mixture) {
    if (m.task == "text" || m.task == "chat") continue;
    const auto task = make_task(m.task);
    const int n = std::max(1, static_cast<int>(documents * m.weight / total));
    for (int i = 0; i < n; ++i) {
      const int difficulty = static_cast<int>(rng.uniform_int(m.min_difficulty, m.max_difficulty));
      corpus.push_back(example_plain_text(task->sample(rng, difficulty, Split::Train)));
    }
  }
  return corpus;
}

}  // namespace muse

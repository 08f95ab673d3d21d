#include "eval/chat_eval.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

namespace muse {

namespace {

std::string normalized(std::string s) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

ChatEvalResult evaluate_chat(Engine& engine, const Tokenizer& tokenizer,
                             const std::vector<ChatConversation>& conversations, const std::string& name,
                             int max_tokens) {
  const auto start = std::chrono::steady_clock::now();
  RenderOptions options;
  options.vision = vision_params(engine.config());
  std::vector<TokenSequence> prompts;
  std::vector<std::string> expected, questions;
  for (const auto& conversation : conversations) {
    if (conversation_split(conversation) != Split::Heldout) continue;
    auto messages = conversation_messages(conversation);
    // The prompt ends at the last assistant message, which is the reference answer.
    size_t last = messages.size();
    while (last > 0 && messages[last - 1].role != Role::Assistant) --last;
    if (last == 0) continue;
    expected.push_back(segments_text(messages[last - 1].content));
    messages.resize(last - 1);
    questions.push_back(messages.empty() ? "" : segments_text(messages.back().content));
    prompts.push_back(render_conversation(tokenizer, messages, true, options));
  }
  RequestParams request;  // greedy
  request.sampling.max_tokens = max_tokens;
  request.sampling.stop_tokens = {tokenizer.special(Special::EndOfTurn), tokenizer.eos()};
  std::vector<Prompt> inputs;
  for (const auto& prompt : prompts) inputs.push_back(Prompt::of(prompt));
  const auto outputs = engine.run_batch(inputs, request);
  ChatEvalResult result;
  result.name = name;
  result.conversations = static_cast<int>(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto reply = parse_reply(tokenizer, outputs[i].tokens);
    const bool correct = normalized(reply.answer) == normalized(expected[i]);
    result.accuracy += correct;
    result.mean_thinking_tokens += reply.thinking_tokens;
    if (result.examples.size() < 5)
      result.examples.push_back(questions[i] + " -> " + reply.answer + (correct ? "" : " (expected " + expected[i] + ")"));
  }
  if (!prompts.empty()) {
    result.accuracy /= static_cast<double>(prompts.size());
    result.mean_thinking_tokens /= static_cast<double>(prompts.size());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string chat_eval_markdown(const std::vector<ChatEvalResult>& results) {
  std::string out = "| chat file | held-out conversations | exact-match accuracy | thinking tokens |\n|---|---|---|---|\n";
  char line[512];
  for (const auto& r : results) {
    std::snprintf(line, sizeof line, "| %s | %d | %.1f%% | %.1f |\n", r.name.c_str(), r.conversations,
                  100 * r.accuracy, r.mean_thinking_tokens);
    out += line;
  }
  return out;
}

}  // namespace muse

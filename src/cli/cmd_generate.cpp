// muse generate | muse chat
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "agents/contemplate.h"
#include "agents/tool_session.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "data/image.h"
#include "data/table.h"
#include "model/weights.h"
#include "runtime/runtime.h"
#include "tokenizer/chat_format.h"
#include "constrain/reply_constraint.h"
#include "agents/spawn.h"
#include "tools/registry.h"
#include "tools/trace_tools.h"
#include "util/error.h"
#include "util/format.h"
#include "util/log.h"

namespace muse::cli {
namespace fs = std::filesystem;

// --model default: ./models/default, else the one beside the binary (build/bin/muse -> ../../models/default).
std::string default_model_dir() {
  if (fs::is_directory("models/default")) return "models/default";
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = exe.parent_path().parent_path().parent_path() / "models" / "default";
    if (fs::is_directory(beside)) return beside.string();
  }
  return "models/default";
}

namespace {

struct GenerateOptions {
  std::string model_dir;
  std::string prompt;
  bool raw = false;
  bool answer_only = false;
  bool keep_history = false;  // chat: send earlier turns back to the model
  std::vector<std::string> images;  // attached to the prompt (chat: to every message), in this order
  std::vector<std::string> tables;
  std::string reasoning_effort;  // low | medium | high -> max thinking tokens (unless given explicitly)
  std::string tools = "on";      // built-in tools (calculator, zoom, table_query) while answering
  std::string spawn = "on";      // sub-agents: the model may spawn helpers for parts of the problem
  std::string mode = "standard";  // standard | contemplating (several agents in parallel, then a synthesis)
  int agents = 8;                 // contemplating: agents
  std::string synthesis = "confidence";  // contemplating: vote | confidence | online
  int samples = 1;               // generate: > 1 runs on the engine, the prompt prefilled once and forked
  int64_t kv_mem_mib = 256;      // the engine's KV pool
  bool json = false;             // the answer is a JSON object (constrained decoding)
  std::string json_schema;       // the answer is JSON by the schema in this file
  std::shared_ptr<const constrain::JsonSchema> answer_schema;  // from --json / --json-schema (load())
  SamplingParams sampling;
  RuntimeOptions runtime;
};

void add_sampling_options(CLI::App& cmd, GenerateOptions& o) {
  cmd.add_option("--model", o.model_dir, "model directory (default: models/default)");
  cmd.add_option("--image", o.images, "attach a PNG or JPEG image (repeatable)");
  cmd.add_option("--table", o.tables, "attach a table: .csv, or .json (array of records or one object) (repeatable)");
  cmd.add_option("--temperature", o.sampling.temperature, "0 = greedy")->capture_default_str();
  cmd.add_option("--top-k", o.sampling.top_k, "0 = off")->capture_default_str();
  cmd.add_option("--top-p", o.sampling.top_p, "1 = off")->capture_default_str();
  cmd.add_option("--seed", o.sampling.seed)->capture_default_str();
  cmd.add_option("--max-tokens", o.sampling.max_tokens)->capture_default_str();
  cmd.add_option("--max-thinking-tokens", o.sampling.max_thinking_tokens,
                 "thinking budget: at this many tokens <|/think|> is forced (-1 = none)")
      ->capture_default_str();
  cmd.add_option("--min-thinking-tokens", o.sampling.min_thinking_tokens,
                 "the model may not end its thinking before this many tokens")
      ->capture_default_str();
  cmd.add_option("--reasoning-effort", o.reasoning_effort, "low (32 thinking tokens) | medium (128) | high (no limit)")
      ->check(CLI::IsMember({"low", "medium", "high"}));
  cmd.add_option("--mode", o.mode,
                 "standard (one agent) | contemplating (--agents agents reason in parallel, then --synthesis)")
      ->capture_default_str()->check(CLI::IsMember({"standard", "contemplating"}));
  cmd.add_option("--agents", o.agents, "contemplating: agents reasoning in parallel")
      ->capture_default_str()->check(CLI::Range(1, ContemplateParams::kMaxAgents));
  cmd.add_option("--synthesis", o.synthesis,
                 "contemplating: vote (majority) | confidence (the most confident half votes, weighted) | online "
                 "(unsure agents stopped early, stop at consensus: fewer tokens)")
      ->capture_default_str()->check(CLI::IsMember({"vote", "confidence", "online"}));
  cmd.add_option("--tools", o.tools,
                 "on | off: the built-in tools (calculator, zoom, table_query) the model may call while thinking; "
                 "each call is shown")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd.add_option("--spawn", o.spawn,
                 "on | off: the model may spawn sub-agents for parts of a problem (they run in parallel; each is "
                 "shown with its task and answer)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  cmd.add_flag("--json", o.json, "the answer is a JSON object (decoding follows JSON; the thinking stays free)");
  cmd.add_option("--json-schema", o.json_schema,
                 "FILE: the answer is JSON by this JSON Schema (supported keywords: docs/ARCHITECTURE.md, Server)");
  add_runtime_options(cmd, o.runtime);
}

// --json / --json-schema as a compiled schema (null: a free answer). MuseError naming the option and what is
// wrong with the file or the schema.
std::shared_ptr<const constrain::JsonSchema> answer_schema(const GenerateOptions& o) {
  if (!o.json_schema.empty() && o.json) throw MuseError("--json and --json-schema: give one");
  if (o.json) return std::make_shared<const constrain::JsonSchema>(constrain::JsonSchema::any_object());
  if (o.json_schema.empty()) return nullptr;
  std::ifstream in(o.json_schema);
  if (!in) throw MuseError("--json-schema " + o.json_schema + ": cannot read the file", ErrorKind::NotFound);
  nlohmann::json schema;
  try {
    schema = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw MuseError("--json-schema " + o.json_schema + ": not valid JSON: " + e.what());
  }
  try {
    return std::make_shared<const constrain::JsonSchema>(constrain::JsonSchema::compile(schema));
  } catch (const MuseError& e) {
    throw MuseError("--json-schema " + o.json_schema + ": the schema cannot be followed: " + e.what());
  }
}

// The reply's constraint for the answer schema (null: none).
std::shared_ptr<const TokenConstraint> answer_constraint(const GenerateOptions& o, const Tokenizer& tok) {
  if (!o.answer_schema) return nullptr;
  auto rules = std::make_shared<constrain::ReplyRules>();
  rules->answer = o.answer_schema;
  return std::make_shared<constrain::ReplyConstraint>(constrain::TokenBytes::of(tok), constrain::ReplyTokens::of(tok),
                                                      std::move(rules));
}

// Loads the model and makes the end of the assistant's turn a stop token.
LoadedModel load(GenerateOptions& o) {
  apply_runtime_options(o.runtime);
  if (!o.reasoning_effort.empty() && o.sampling.max_thinking_tokens == -1)
    o.sampling.max_thinking_tokens = thinking_budget_for_effort(o.reasoning_effort);
  o.sampling.validate();
  o.answer_schema = answer_schema(o);  // a bad schema fails before the model loads
  if (o.answer_schema && parse_answer_mode(o.mode, "--mode") == AnswerMode::Contemplating)
    throw MuseError("--json / --json-schema answer in standard mode; contemplating synthesizes text answers");
  if (o.model_dir.empty()) o.model_dir = default_model_dir();
  auto loaded = load_model_dir(o.model_dir, parse_device(o.runtime.device));
  o.sampling.stop_tokens = {loaded.tokenizer.special(Special::EndOfTurn), loaded.tokenizer.eos()};
  o.sampling.think_end_token = loaded.tokenizer.special(Special::ThinkEnd);
  return loaded;
}

// The attachments as segments (loaded now, so a bad file fails before any generation), then the text.
std::vector<Segment> attachments(const std::vector<std::string>& images, const std::vector<std::string>& tables,
                                 const ModelConfig& config) {
  if (!images.empty() && !config.sees_images())
    throw MuseError("--image: this model is text-only (its config has no patch_size); train one with images");
  std::vector<Segment> segments;
  for (const auto& path : images) segments.push_back(image_segment(load_image(path)));
  for (const auto& path : tables) segments.push_back(table_segment(load_table(path)));
  return segments;
}

std::vector<Segment> with_text(std::vector<Segment> segments, const std::string& text) {
  segments.push_back(text_segment(text));
  return segments;
}

// Streams the reply as it is generated: thinking (dimmed on a terminal), then the answer.
class ReplyPrinter {
 public:
  ReplyPrinter(const Tokenizer& tok, bool show_thinking)
      : tok_(tok), show_thinking_(show_thinking), color_(isatty(STDOUT_FILENO)) {}

  bool on_token(int token) {
    generated_.push_back(token);
    const auto reply = parse_reply(tok_, generated_);
    if (show_thinking_) {
      if (!thinking_opened_) std::cout << (color_ ? "\x1b[2m" : "") << "thinking: ";
      thinking_opened_ = true;
      print_new_suffix(reply.thinking, thinking_printed_);
    }
    if (reply.finished_thinking) {
      if (show_thinking_ && !answer_opened_) std::cout << (color_ ? "\x1b[0m" : "") << "\n";
      answer_opened_ = true;
      print_new_suffix(reply.answer, answer_printed_);
    }
    return true;
  }
  // A call the model made, between its reasoning: what it asked and what came back (a zoom's box and crop).
  void on_tool_call(const ToolCallRecord& call) {
    if (!show_thinking_) return;  // --answer-only: the answer alone
    if (!thinking_opened_) std::cout << (color_ ? "\x1b[2m" : "") << "thinking: ";
    thinking_opened_ = true;
    if (color_) std::cout << "\x1b[0m";
    std::cout << "\n  [tool] " << call.summary() << "\n" << (color_ && !answer_opened_ ? "\x1b[2m" : "") << std::flush;
  }
  // A line about the run between the reasoning (a spawn, a sub-agent's answer).
  void on_note(const std::string& line) {
    if (!show_thinking_) return;
    if (color_) std::cout << "\x1b[0m";
    std::cout << "\n  " << line << "\n" << (color_ && !answer_opened_ ? "\x1b[2m" : "") << std::flush;
  }
  void finish() {
    if (show_thinking_ && !answer_opened_) std::cout << (color_ ? "\x1b[0m" : "");
    std::cout << std::endl;
  }
  const std::vector<int>& tokens() const { return generated_; }

 private:
  // Decoding the whole reply each time keeps multi-byte characters whole; print only what is new.
  static void print_new_suffix(const std::string& text, size_t& printed) {
    if (text.size() <= printed) return;
    std::cout << text.substr(printed) << std::flush;
    printed = text.size();
  }
  const Tokenizer& tok_;
  bool show_thinking_, color_;
  std::vector<int> generated_;
  size_t thinking_printed_ = 0, answer_printed_ = 0;
  bool thinking_opened_ = false, answer_opened_ = false;
};

// The engine every command here runs on: the fused decode path on a CPU (same math as the libtorch forward,
// without per-op dispatch), the KV pool --kv-mem large.
std::unique_ptr<Engine> make_engine(const LoadedModel& loaded, const GenerateOptions& o) {
  const auto device = parse_device(o.runtime.device);
  EngineOptions options = EngineOptions::for_device(device);
  options.kv_mem = o.kv_mem_mib << 20;
  return std::make_unique<Engine>(loaded.model, device, options);
}

// --tools as the engine's tool-use params.
ToolUseParams tool_use(const GenerateOptions& o) {
  ToolUseParams use;
  use.enabled = parse_tools_switch(o.tools, "--tools");
  return use;
}

// The built-in tools for one reply, acting on its attachments; --tools off bans calls.
ToolRunner tool_runner(const Tokenizer& tok, const ModelConfig& config, const std::vector<Segment>& attachments,
                       const GenerateOptions& o) {
  return ToolRunner(tok, builtin_tools(), tool_context_for(attachments, vision_params(config)), tool_use(o));
}

// --mode: whether to contemplate (MuseError naming --mode / --synthesis when either is unknown).
bool contemplating(const GenerateOptions& o) {
  parse_synthesis(o.synthesis, "--synthesis");
  return parse_answer_mode(o.mode, "--mode") == AnswerMode::Contemplating;
}

// With sub-agents: the root's reply streams as usual; each spawn, and each sub-agent as it ends (its task,
// answer, tokens and time), gets a line between the root's reasoning.
std::vector<int> stream_agent_tree(Engine& engine, const Tokenizer& tok, const ModelConfig& config,
                                   const TokenSequence& prompt, const std::vector<Segment>& attachments,
                                   const GenerateOptions& o, RequestParams params, ReplyPrinter& printer) {
  AgentTree tree(engine, tok, builtin_tools(), tool_use(o), SpawnLimits{}, vision_params(config));
  const auto who = [](const AgentNode& a) {
    return "agent " + std::to_string(a.index) + (a.parent >= 0 ? " (of " + std::to_string(a.parent) + ")" : "");
  };
  tree.on_call = [&](int agent, const ToolCallRecord& call) {
    if (agent == 0) printer.on_tool_call(call);
    else printer.on_note("[agent " + std::to_string(agent) + " tool] " + call.summary());
  };
  tree.on_spawn = [&](const AgentNode& parent, const SpawnRecord& spawn) {
    if (spawn.error != ToolError::None) {
      printer.on_note("[spawn] " + who(parent) + " " + spawn.arguments.dump() + " -> " + spawn.results[0]);
      return;
    }
    std::string children;
    for (int c : spawn.children) children += (children.empty() ? "" : ", ") + std::to_string(c);
    printer.on_note("[spawn] " + who(parent) + " -> agents " + children + ": " + spawn.arguments.dump());
  };
  tree.on_agent_done = [&](const AgentNode& a) {
    if (a.parent < 0) return;
    char stats[96];
    std::snprintf(stats, sizeof stats, "(%d tokens, %.2f s, %s)", a.tokens, a.finished_s - a.started_s,
                  finish_reason_name(a.finish_reason));
    printer.on_note("[" + who(a) + "] " + a.task + " -> " + (a.answer.empty() ? "(no answer)" : a.answer) + " " + stats);
  };
  const auto run = tree.run(attachments, Prompt::of(prompt), std::move(params),
                            [&](int agent, const TokenEvent& e) {
                              if (agent == 0 && e.token >= 0) printer.on_token(e.token);
                            });
  const auto& root = run.agents[0];
  if (root.finish_reason == FinishReason::Error) throw MuseError("generation failed: " + root.sequence.error);
  if (run.agents.size() > 1 || run.refused_spawns > 0) {
    char line[160];
    std::snprintf(line, sizeof line, "[agents] %zu in all, %lld tokens, %.2f s%s", run.agents.size(),
                  static_cast<long long>(run.tokens), run.seconds, run.timed_out ? ", stopped by the time limit" : "");
    printer.on_note(line);
  }
  printer.finish();
  return root.sequence.tokens;
}

// Streams one reply through the printer (thinking, each tool call, then the answer) and returns the generated
// tokens. The tools act on the prompt's attachments.
std::vector<int> stream_reply(Engine& engine, const Tokenizer& tok, const ModelConfig& config,
                              const TokenSequence& prompt, const std::vector<Segment>& attachments,
                              const GenerateOptions& o, const SamplingParams& sampling, ReplyPrinter& printer) {
  RequestParams params;
  params.sampling = sampling;
  params.constraint = answer_constraint(o, tok);
  if (parse_tools_switch(o.spawn, "--spawn")) return stream_agent_tree(engine, tok, config, prompt, attachments, o, params, printer);
  ToolRunner runner = tool_runner(tok, config, attachments, o);
  runner.configure(params);
  size_t shown = 0;
  const auto run = generate_with_tools(engine, Prompt::of(prompt), params, runner, [&](const TokenEvent& e) {
    if (e.token >= 0) printer.on_token(e.token);
    for (; shown < runner.calls().size(); ++shown) printer.on_tool_call(runner.calls()[shown]);
  });
  for (; shown < run.calls.size(); ++shown) printer.on_tool_call(run.calls[shown]);  // unclosed ones
  const auto& result = run.sequence;
  if (result.finish_reason == FinishReason::Error) throw MuseError("generation failed: " + result.error);
  printer.finish();
  return result.tokens;
}

// Contemplating: --agents agents on one prefilled prompt, each with its own tools; a line per agent as it ends
// (its answer, confidence, tokens, or why it was stopped), then the synthesis and the answer.
Contemplation contemplate_reply(Engine& engine, const Tokenizer& tok, const ModelConfig& config,
                                const TokenSequence& prompt, const std::vector<Segment>& attachments,
                                const GenerateOptions& o, const SamplingParams& sampling) {
  ContemplateParams params;
  params.agents = o.agents;
  params.synthesis = parse_synthesis(o.synthesis, "--synthesis");
  if (sampling.temperature > 0) params.temperature = sampling.temperature;
  RequestParams request;
  request.sampling = sampling;
  const bool color = isatty(STDOUT_FILENO);
  Contemplator contemplator(
      tok, params, request, [&](int) { return tool_runner(tok, config, attachments, o); },
      [&](int agent, const TokenEvent&, const AgentOutcome* done) {
        if (!done || o.answer_only) return;
        std::cout << (color ? "\x1b[2m" : "") << "  [agent " << agent << " t=" << format_fixed(done->temperature, 2)
                  << "] ";
        if (done->stop == AgentStop::Finished)
          std::cout << (done->answer.empty() ? "(no answer)" : done->answer);
        else
          std::cout << "stopped: " << agent_stop_name(done->stop);
        std::cout << "  (confidence " << format_fixed(done->confidence, 2) << ", " << done->tokens << " tokens";
        for (const auto& call : done->calls) std::cout << "; " << call.summary();
        std::cout << ")" << (color ? "\x1b[0m" : "") << "\n" << std::flush;
      });
  Contemplation c = contemplate(engine, Prompt::of(prompt), contemplator);
  if (!c.error.empty()) throw MuseError("contemplating: " + c.error, ErrorKind::Internal);
  if (!o.answer_only) {
    int votes = 0;
    for (const auto& a : c.agents) votes += a.counted ? 1 : 0;
    std::cout << "synthesis: " << synthesis_name(c.synthesis) << ", " << c.agents.size() << " of "
              << c.agents_requested << " agents ran, " << votes << " voted, " << c.tokens << " tokens";
    if (c.winner >= 0)
      std::cout << "; agent " << c.winning_agent()->index << "'s answer, support " << format_fixed(c.support, 2);
    if (c.consensus_stop) std::cout << " (stopped at consensus)";
    std::cout << "\n";
    if (c.winner >= 0) std::cout << "thinking: " << c.thinking << "\n";
  }
  std::cout << (c.winner >= 0 ? c.answer : "(no agent answered)") << std::endl;
  return c;
}

// -n samples of one prompt on the engine: the prompt is prefilled once and its KV blocks are shared by all
// samples (fork); each sample has its own seed (the engine derives it from --seed). Printed in order.
void sample_many(const LoadedModel& loaded, const TokenSequence& prompt, const std::vector<Segment>& segments,
                 const GenerateOptions& o) {
  auto engine_ptr = make_engine(loaded, o);
  Engine& engine = *engine_ptr;
  const auto& tok = loaded.tokenizer;
  RequestParams params;
  params.sampling = o.sampling;
  params.constraint = answer_constraint(o, loaded.tokenizer);
  std::vector<ToolRunner> runners;
  for (int i = 0; i < o.samples; ++i) runners.push_back(tool_runner(tok, loaded.config, segments, o));
  runners.front().configure(params);
  auto events = std::make_shared<EventQueue>();
  params.events = events;
  const auto ids = engine.add_samples(Prompt::of(prompt), params, o.samples);
  const auto runs = drive_with_tools(engine, ids, events, runners);
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& result = runs[i].sequence;
    if (result.finish_reason == FinishReason::Error)
      throw MuseError("sample " + std::to_string(i + 1) + ": " + result.error, ErrorKind::Internal);
    const auto reply = parse_reply(tok, result.tokens);
    std::cout << "--- sample " << (i + 1) << " (" << finish_reason_name(result.finish_reason) << ")\n";
    if (!o.answer_only) {
      std::cout << "thinking: " << reply.thinking << "\n";
      for (const auto& call : runs[i].calls) std::cout << "  [tool] " << call.summary() << "\n";
    }
    std::cout << reply.answer << "\n";
  }
  const auto stats = engine.stats();
  log_info("engine",
           "%d samples of a %zu-token prompt: %lld prompt tokens run through the model (%zu without sharing), "
           "peak KV %.2f MiB, %.2f s of engine steps",
           o.samples, prompt.size(), static_cast<long long>(stats.prefill_tokens), prompt.size() * o.samples,
           static_cast<double>(stats.kv_peak_bytes) / (1 << 20), stats.step_seconds);
}

}  // namespace

namespace {

// What the chat banner and `muse generate --help` suggest, worded the ordinary way. tests/cli/examples_test.sh
// checks that the shipped model answers every one of them (and every example in README.md) correctly.
const std::vector<std::string>& example_prompts() {
  static const std::vector<std::string> prompts = {"What is 347+589?", "1234+56", "23*41", "target 100 from 25 4 7"};
  return prompts;
}

std::string quoted_examples() {
  std::string out;
  for (const auto& p : example_prompts()) out += (out.empty() ? "\"" : ", \"") + p + "\"";
  return out;
}

}  // namespace

void add_generate_commands(CLI::App& app) {
  auto gen_opts = std::make_shared<GenerateOptions>();
  auto* gen = app.add_subcommand("generate", "Answer one prompt (thinking, then answer)");
  std::string footer = "Examples:";
  for (const auto& p : example_prompts()) footer += "\n  muse generate -p \"" + p + "\"";
  gen->footer(footer);
  gen->add_option("--prompt,-p", gen_opts->prompt, "the user's message")->required();
  gen->add_flag("--raw", gen_opts->raw, "continue the raw text instead of answering it as a chat message");
  gen->add_flag("--answer-only", gen_opts->answer_only, "print only the final answer");
  add_sampling_options(*gen, *gen_opts);
  gen->add_option("-n,--samples", gen_opts->samples,
                  "answers to sample (> 1: one engine run, the prompt prefilled once and shared by every sample)")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  gen->add_option("--kv-mem", gen_opts->kv_mem_mib,
                  "MiB of KV cache for the engine; requests that can never fit are refused")
      ->capture_default_str()->check(CLI::Range(1, 1 << 20));
  gen->callback([o = gen_opts] {
    if (o->samples > 1 && o->raw) throw MuseError("-n > 1 answers a chat prompt; it cannot be combined with --raw");
    if (o->samples > 1 && o->sampling.temperature <= 0)
      throw MuseError("-n " + std::to_string(o->samples) +
                      " with --temperature 0 would give the same greedy answer every time; pass --temperature > 0");
    auto loaded = load(*o);
    const auto& tok = loaded.tokenizer;
    if (o->raw) {
      TokenSequence prompt;
      prompt.append_token(tok.bos(), false);
      prompt.append_text(tok, o->prompt, false);
      SamplingParams raw_sampling = o->sampling;
      raw_sampling.think_end_token = -1;  // a raw continuation has no thinking span to budget
      RequestParams params;
      params.sampling = raw_sampling;
      const auto result = make_engine(loaded, *o)->generate(Prompt::of(prompt), params, {});
      std::cout << o->prompt << tok.decode(result.tokens, /*show_specials=*/true) << std::endl;
      return;
    }
    ReplyPrinter printer(tok, !o->answer_only);
    RenderOptions render;
    render.vision = vision_params(loaded.config);
    const auto segments = attachments(o->images, o->tables, loaded.config);
    const auto prompt = render_prompt(tok, with_text(segments, o->prompt), render);
    if (static_cast<int64_t>(prompt.size()) >= loaded.config.max_seq_len)
      throw MuseError("the prompt is " + std::to_string(prompt.size()) + " tokens; this model's context is " +
                          std::to_string(loaded.config.max_seq_len),
                      ErrorKind::OverCapacity);
    if (o->samples > 1) {
      if (contemplating(*o)) throw MuseError("-n > 1 and --mode contemplating: choose one (agents are samples)");
      sample_many(loaded, prompt, segments, *o);
      return;
    }
    if (contemplating(*o)) {
      contemplate_reply(*make_engine(loaded, *o), tok, loaded.config, prompt, segments, *o, o->sampling);
      return;
    }
    stream_reply(*make_engine(loaded, *o), tok, loaded.config, prompt, segments, *o, o->sampling, printer);
  });

  auto chat_opts = std::make_shared<GenerateOptions>();
  auto* chat = app.add_subcommand("chat", "Interactive chat with a model (/reset clears, /quit or Ctrl-D exits)");
  chat->add_flag("--history", chat_opts->keep_history,
                 "keep earlier turns in the model's context (off by default: task models are trained on single "
                 "questions, and unseen multi-turn context confuses them)");
  add_sampling_options(*chat, *chat_opts);
  chat->callback([o = chat_opts] {
    auto loaded = load(*o);
    auto engine = make_engine(loaded, *o);
    const auto& tok = loaded.tokenizer;
    const bool interactive = isatty(STDIN_FILENO);
    const auto attached = attachments(o->images, o->tables, loaded.config);  // context of every message
    std::vector<Segment> pending;  // /image and /table attach to the next message only
    std::cout << "Muse chat — model " << loaded.dir << " (" << loaded.config.parameter_count() / 1e6
              << "M params). Try: " << quoted_examples() << ".\n"
              << "/image FILE and /table FILE attach to your next message; /reset, /quit.\n"
              << (o->keep_history ? "Earlier turns stay in context.\n"
                                  : "Each message is answered on its own (--history keeps the conversation).\n");
    std::vector<Message> history;
    std::string line;
    while (true) {
      if (interactive) std::cout << "\nyou> " << std::flush;
      if (!std::getline(std::cin, line)) break;
      if (line == "/quit" || line == "/exit") break;
      if (line == "/reset") {
        history.clear();
        std::cout << "(conversation cleared)\n";
        continue;
      }
      if (line.rfind("/image ", 0) == 0 || line.rfind("/table ", 0) == 0) {
        const std::string path = line.substr(7);
        try {
          const bool image = line[1] == 'i';
          pending.push_back(image ? attachments({path}, {}, loaded.config).front()
                                  : attachments({}, {path}, loaded.config).front());
          std::cout << "(attached " << path << " to your next message)\n";
        } catch (const MuseError& e) {
          std::cout << "(not attached: " << e.what() << ")\n";  // a bad file must not end the conversation
        }
        continue;
      }
      if (line.empty()) continue;
      if (!o->keep_history) history.clear();
      std::vector<Segment> content = attached;
      content.insert(content.end(), pending.begin(), pending.end());
      pending.clear();
      Message question;
      question.content = with_text(std::move(content), line);
      history.push_back(std::move(question));
      RenderOptions render;
      render.vision = vision_params(loaded.config);
      render.keep_thinking = false;  // past reasoning is dropped from the context; answers stay
      auto prompt = render_conversation(tok, history, true, render);
      // Keep the context within the model's window by forgetting the oldest turns.
      while (static_cast<int64_t>(prompt.size()) + o->sampling.max_tokens > loaded.config.max_seq_len &&
             history.size() > 1) {
        history.erase(history.begin(), history.begin() + std::min<size_t>(2, history.size() - 1));
        prompt = render_conversation(tok, history, true, render);
      }
      if (static_cast<int64_t>(prompt.size()) >= loaded.config.max_seq_len) {
        std::cout << "(message too long for this model's " << loaded.config.max_seq_len << "-token context)\n";
        history.pop_back();
        continue;
      }
      std::cout << "muse> ";
      ReplyPrinter printer(tok, true);
      SamplingParams sampling = o->sampling;
      sampling.max_tokens = static_cast<int>(std::min<int64_t>(
          sampling.max_tokens, loaded.config.max_seq_len - static_cast<int64_t>(prompt.size())));
      Message answer;
      answer.role = Role::Assistant;
      if (contemplating(*o)) {
        std::cout << "\n";
        const auto c = contemplate_reply(*engine, tok, loaded.config, prompt, history.back().content, *o, sampling);
        answer.content = {text_segment(c.answer)};
        answer.thinking = c.thinking;
      } else {
        const auto reply = parse_reply(
            tok, stream_reply(*engine, tok, loaded.config, prompt, history.back().content, *o, sampling, printer));
        answer.content = {text_segment(reply.answer)};
        answer.thinking = reply.thinking;
      }
      history.push_back(std::move(answer));
    }
  });
}

}  // namespace muse::cli

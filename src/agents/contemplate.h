// Contemplating mode: several agents reason in parallel on one problem and their work is synthesized into one
// answer. The prompt is prefilled once by a holder sequence (RequestParams::hold); every agent is a fork of it,
// diversified by seed and temperature, and all of them decode in the engine's one batch (each with its own tool
// calls). How their answers become one is the synthesis:
//
//   vote        majority over normalised final answers (self-consistency);
//   confidence  DeepConf offline: each agent's trace score is its lowest sliding-window mean of token
//               confidence (-mean of the top-k logprobs); the best `keep_share` of agents vote, weighted by score;
//   online      DeepConf online: a warm-up wave sets the threshold (the score `keep_share` of it reaches), the
//               other agents are stopped as soon as a window's confidence falls below it, and the run stops once
//               one answer holds `consensus` of the weighted vote — tokens saved. With `online_parallel`,
//               the later agents start a few at a time, so a consensus also saves the ones not yet started.
//
//   Contemplator c(tok, ContemplateParams{}, request, [&](int) { return ToolRunner(...); });
//   Contemplation r = contemplate(engine, prompt, c);
//   r.answer, r.agents[i].confidence, r.agents[i].stopped, r.tokens
//
// Every agent's trace, answer, confidence, tokens and why it stopped are in the result: Muse shows every agent.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agents/tool_session.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace muse {

// How a request is answered: one agent (which may think longer), or several in parallel.
enum class AnswerMode { Standard, Contemplating };
const char* answer_mode_name(AnswerMode mode);  // "standard" | "contemplating"
AnswerMode parse_answer_mode(const std::string& name, const std::string& what);  // MuseError naming `what`

enum class Synthesis { Vote, Confidence, Online };
const char* synthesis_name(Synthesis synthesis);  // "vote" | "confidence" | "online"
Synthesis parse_synthesis(const std::string& name, const std::string& what);

struct ContemplateParams {
  int agents = 8;
  Synthesis synthesis = Synthesis::Confidence;
  // Agents sample (greedy agents would all write one trace): agent i of n runs at
  // temperature + temperature_spread * (2i / (n - 1) - 1), at least 0.05. 0: one greedy agent (Standard).
  double temperature = 0.7;
  double temperature_spread = 0.2;
  int top_k = 8;             // logprobs per token for its confidence (DeepConf: 20 at LLM scale)
  int window = 16;           // tokens per confidence window (DeepConf: 2048; our traces are 20-300 tokens)
  double keep_share = 0.5;   // confidence/online: the share of agents (best trace scores) whose votes count
  int warmup = 0;            // online: agents in the first wave; 0 = max(2, agents / 4)
  double consensus = 0.95;   // online: stop once one answer holds this share of the weighted vote (and at
                             // least the warm-up's number of votes: one sure agent is no consensus)
  // online: agents decoding at once after the warm-up; each one that ends starts the next, until consensus or
  // `agents`. Fewer in flight: a consensus leaves more agents never started (tokens saved), at the cost of
  // wall time. 0 = every remaining agent at once (one later wave).
  int online_parallel = 0;
  // Tokens kept for each agent's answer: its thinking is closed this many tokens before max_tokens (a thinking
  // budget), so an agent that would have run out of tokens mid-thought still answers and votes. 0: off.
  int answer_reserve = 24;
  static constexpr int kMaxAgents = 64;
  void validate() const;     // MuseError naming the field
  int warmup_agents() const;
  int later_agents_at_once() const;  // online: how many later agents start when the warm-up is in
  double agent_temperature(int index) const;
};

// Why an agent ended.
enum class AgentStop {
  Finished,       // wrote its answer (or ran out of tokens) on its own
  LowConfidence,  // online: a window's confidence fell below the warm-up threshold
  Consensus,      // online: another answer already held the consensus share
  Failed,         // the engine failed the sequence (see sequence.error)
};
const char* agent_stop_name(AgentStop stop);  // "finished" | "low_confidence" | "consensus" | "failed"

// Token confidence over a trace: sliding-window means, the lowest of them the trace's score.
class ConfidenceTrace {
 public:
  explicit ConfidenceTrace(int window) : window_(window) {}
  // One generated token's top-k logprobs (best first): its confidence is -(1/k) * sum(logprob).
  void add(const std::vector<std::pair<int, float>>& top_logprobs);
  void add(double token_confidence);
  int tokens() const { return static_cast<int>(values_.size()); }
  bool full() const { return tokens() >= window_; }
  double current() const;  // mean of the last window (of all tokens while fewer); NaN with none
  double lowest() const;   // the trace score: lowest full-window mean (the mean of all while fewer); NaN with none
  double mean() const;     // mean over all tokens; NaN with none

 private:
  int window_;
  std::vector<double> values_;
  double window_sum_ = 0, total_ = 0, lowest_ = 0;
  bool have_lowest_ = false;
};

// The text votes are counted on: the answer lowercased with all whitespace removed ("" = no answer).
std::string answer_key(const std::string& answer);

struct AgentOutcome {
  int index = 0;
  int wave = 0;               // online: 0 = warm-up, 1 = the later agents; otherwise 0
  double temperature = 0;
  uint64_t seed = 0;
  std::string thinking, answer, key;
  double confidence = 0;      // the trace score (ConfidenceTrace::lowest); NaN with no sampled token
  double mean_confidence = 0;
  int tokens = 0;             // generated, sampled and forced (tool results)
  int thinking_tokens = 0;
  FinishReason finish_reason = FinishReason::None;
  AgentStop stop = AgentStop::Finished;
  bool counted = false;       // its vote counted in the synthesis
  double weight = 0;          // of its vote (1 for `vote`, the score otherwise)
  std::vector<ToolCallRecord> calls;
  SequenceResult sequence;
};

struct Contemplation {
  Synthesis synthesis = Synthesis::Vote;
  std::vector<AgentOutcome> agents;  // those that ran, by index
  int agents_requested = 0;
  int winner = -1;                   // the agent whose reply is the answer (most confident of the winning answer)
  std::string answer, thinking;      // the winner's (empty when no agent answered)
  double support = 0;                // the winning answer's share of the counted (weighted) vote
  int winner_votes = 0;              // agents whose counted vote went to the winning answer
  double threshold = 0;              // online: the warm-up threshold (NaN otherwise)
  bool consensus_stop = false;       // online: the run stopped early on consensus
  int64_t tokens = 0;                // generated by all agents
  int64_t prompt_tokens = 0;         // prefilled once
  int64_t cached_tokens = 0;         // of them, taken from the engine's prefix cache
  double seconds = 0;
  std::string error;                 // the prompt's holder failed: nothing ran
  const AgentOutcome* winning_agent() const { return winner >= 0 ? &agents[static_cast<size_t>(winner)] : nullptr; }
};

// Counts the votes of `agents` by the synthesis's rule (sets counted and weight) and picks the winner: the
// answer with the most weight (ties: more votes, then the earliest agent), its most confident agent. Pure: the
// offline strategies are exactly this over agents that all ran to their end.
void tally(Contemplation& contemplation, double keep_share);

// One Contemplating run as a state machine on the engine's events, so that many can run at once (evaluation)
// on one event queue. Not thread-safe: one driver thread calls start, on_event and result.
class Contemplator {
 public:
  using RunnerFactory = std::function<ToolRunner(int agent)>;
  // Every event of agent `agent` after its tool runner; on the agent's last event `finished` is its outcome
  // (trace, answer, confidence, why it stopped), otherwise null.
  using AgentEventCallback =
      std::function<void(int agent, const TokenEvent& event, const AgentOutcome* finished)>;
  // `request`: the agents' params (max_tokens, stops, thinking budget); sampling temperature and seed are set
  // per agent from `params` and request.sampling.seed. `make_runner(i)`: agent i's tools (its own limits).
  Contemplator(const Tokenizer& tok, ContemplateParams params, RequestParams request, RunnerFactory make_runner,
               AgentEventCallback on_agent_event = {});

  // Adds the holder and the first wave; their events go to `events`. MuseError if the engine refuses the prompt.
  void start(Engine& engine, const Prompt& prompt, std::shared_ptr<EventQueue> events);
  bool owns(SeqId id) const { return ids_.count(id) > 0; }
  // The holder and the agents launched so far. "Answer now" (Engine::end_thinking) on all of them reaches later
  // waves too: they are forked from the holder and inherit its ended thinking.
  std::vector<SeqId> sequence_ids() const { return {ids_.begin(), ids_.end()}; }
  // Agent `index`'s tool calls so far (empty for an agent not launched).
  const std::vector<ToolCallRecord>& agent_calls(int index) const;
  // One event of its sequences: tool calls answered, confidence tracked, stops and the next wave decided.
  void on_event(Engine& engine, const TokenEvent& event);
  bool done() const;
  // Once done: the agents' results taken from the engine and synthesized.
  Contemplation result(Engine& engine);
  // The caller gives up (a client went away): every sequence is cancelled and its result taken. Needs the
  // engine's loop running (Engine::start).
  void abandon(Engine& engine);

 private:
  struct Agent {
    SeqId id = 0;
    int wave = 0;
    ToolRunner runner;
    ConfidenceTrace trace;
    std::vector<int> tokens;
    bool finished = false;
    AgentStop stop = AgentStop::Finished;
    AgentOutcome outcome;  // filled when it finishes
  };
  void launch(Engine& engine, int count, int wave);
  void finish_agent(Engine& engine, Agent& agent);
  void stop_others(Engine& engine, AgentStop why);
  bool reached_consensus(const Contemplation& now) const;
  void release(Engine& engine);
  Contemplation snapshot() const;  // the finished agents' outcomes, tallied

  const Tokenizer& tok_;
  ContemplateParams params_;
  RequestParams request_;
  RunnerFactory make_runner_;
  AgentEventCallback on_agent_event_;
  std::shared_ptr<EventQueue> events_;
  std::vector<Agent> agents_;
  std::set<SeqId> ids_;
  SeqId holder_ = 0;
  bool holder_finished_ = false, released_ = false, consensus_stop_ = false;
  std::string error_;
  double threshold_ = 0;
  int64_t prompt_tokens_ = 0;
  std::chrono::steady_clock::time_point started_;
};

// Runs contemplators[i] on prompts[i], at most `concurrency` at once (0 = all), on one event queue: steps the
// engine on this thread unless its loop runs. Returns the results in order.
std::vector<Contemplation> run_contemplations(Engine& engine, std::vector<Contemplator>& contemplators,
                                              const std::vector<Prompt>& prompts, int concurrency = 0);
std::vector<Contemplation> run_contemplations(Engine& engine, const std::vector<Contemplator*>& contemplators,
                                              const std::vector<Prompt>& prompts, int concurrency = 0);

// One prompt to its synthesized answer.
Contemplation contemplate(Engine& engine, const Prompt& prompt, Contemplator& contemplator);

}  // namespace muse

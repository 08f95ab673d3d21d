#include "agents/contemplate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "tokenizer/chat_format.h"
#include "util/error.h"
#include "util/rng.h"

namespace muse {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

const char* answer_mode_name(AnswerMode mode) {
  return mode == AnswerMode::Contemplating ? "contemplating" : "standard";
}

AnswerMode parse_answer_mode(const std::string& name, const std::string& what) {
  if (name == "standard") return AnswerMode::Standard;
  if (name == "contemplating") return AnswerMode::Contemplating;
  throw MuseError(what + ": expected standard or contemplating, got \"" + name + "\"");
}

const char* synthesis_name(Synthesis synthesis) {
  switch (synthesis) {
    case Synthesis::Vote: return "vote";
    case Synthesis::Confidence: return "confidence";
    case Synthesis::Online: return "online";
  }
  return "?";
}

Synthesis parse_synthesis(const std::string& name, const std::string& what) {
  for (Synthesis s : {Synthesis::Vote, Synthesis::Confidence, Synthesis::Online})
    if (name == synthesis_name(s)) return s;
  throw MuseError(what + ": expected vote, confidence or online, got \"" + name + "\"");
}

const char* agent_stop_name(AgentStop stop) {
  switch (stop) {
    case AgentStop::Finished: return "finished";
    case AgentStop::LowConfidence: return "low_confidence";
    case AgentStop::Consensus: return "consensus";
    case AgentStop::Failed: return "failed";
  }
  return "?";
}

void ContemplateParams::validate() const {
  if (agents < 1 || agents > kMaxAgents)
    throw MuseError("agents must be in [1, " + std::to_string(kMaxAgents) + "], got " + std::to_string(agents));
  if (!(temperature >= 0) || temperature > 2)
    throw MuseError("contemplating temperature must be in [0, 2], got " + std::to_string(temperature));
  if (temperature == 0 && agents > 1)
    throw MuseError("contemplating temperature 0 would make all " + std::to_string(agents) +
                    " agents write the same greedy trace; use a temperature > 0");
  if (!(temperature_spread >= 0) || temperature_spread > 1)
    throw MuseError("temperature_spread must be in [0, 1], got " + std::to_string(temperature_spread));
  if (top_k < 1 || top_k > 64) throw MuseError("confidence top_k must be in [1, 64], got " + std::to_string(top_k));
  if (window < 1 || window > 4096)
    throw MuseError("confidence window must be in [1, 4096], got " + std::to_string(window));
  if (!(keep_share > 0) || keep_share > 1)
    throw MuseError("keep_share must be in (0, 1], got " + std::to_string(keep_share));
  if (answer_reserve < 0 || answer_reserve > 1024)
    throw MuseError("answer_reserve must be in [0, 1024], got " + std::to_string(answer_reserve));
  if (warmup < 0 || warmup > agents)
    throw MuseError("warmup must be in [0, agents], got " + std::to_string(warmup));
  if (!(consensus > 0.5) || consensus > 1)
    throw MuseError("consensus must be in (0.5, 1], got " + std::to_string(consensus));
  if (online_parallel < 0 || online_parallel > agents)
    throw MuseError("online_parallel must be in [0, agents] (0 = all at once), got " + std::to_string(online_parallel));
}

int ContemplateParams::later_agents_at_once() const {
  const int later = agents - warmup_agents();
  return online_parallel > 0 ? std::min(online_parallel, later) : later;
}

int ContemplateParams::warmup_agents() const {
  if (synthesis != Synthesis::Online) return agents;
  return warmup > 0 ? warmup : std::min(agents, std::max(2, agents / 4));
}

double ContemplateParams::agent_temperature(int index) const {
  if (temperature == 0) return 0;  // one greedy agent: Standard on the same harness
  const double offset = agents > 1 ? 2.0 * index / (agents - 1) - 1.0 : 0.0;
  return std::max(0.05, temperature + temperature_spread * offset);
}

// ---------------------------------------------------------------------------------------------------------------

void ConfidenceTrace::add(const std::vector<std::pair<int, float>>& top_logprobs) {
  if (top_logprobs.empty()) return;
  double sum = 0;
  for (const auto& [token, logprob] : top_logprobs) sum += std::isfinite(logprob) ? logprob : -100.0;
  add(-sum / static_cast<double>(top_logprobs.size()));
}

void ConfidenceTrace::add(double token_confidence) {
  values_.push_back(token_confidence);
  total_ += token_confidence;
  window_sum_ += token_confidence;
  if (tokens() > window_) window_sum_ -= values_[values_.size() - static_cast<size_t>(window_) - 1];
  if (full()) {
    const double mean = window_sum_ / window_;
    lowest_ = have_lowest_ ? std::min(lowest_, mean) : mean;
    have_lowest_ = true;
  }
}

double ConfidenceTrace::current() const {
  if (values_.empty()) return kNaN;
  return window_sum_ / std::min(tokens(), window_);
}

double ConfidenceTrace::lowest() const {
  if (values_.empty()) return kNaN;
  return have_lowest_ ? lowest_ : mean();
}

double ConfidenceTrace::mean() const { return values_.empty() ? kNaN : total_ / tokens(); }

std::string answer_key(const std::string& answer) {
  std::string key;
  for (unsigned char c : answer)
    if (!std::isspace(c)) key.push_back(static_cast<char>(std::tolower(c)));
  return key;
}

// ---------------------------------------------------------------------------------------------------------------

void tally(Contemplation& c, double keep_share) {
  c.winner = -1;
  c.support = 0;
  c.winner_votes = 0;
  c.answer.clear();
  c.thinking.clear();
  // Who may vote: an agent that ended its answer itself, with one.
  std::vector<AgentOutcome*> voters;
  for (auto& a : c.agents) {
    a.counted = false;
    a.weight = 0;
    if (a.stop == AgentStop::Finished && a.finish_reason == FinishReason::Stop && !a.key.empty())
      voters.push_back(&a);
  }
  const bool weighted = c.synthesis != Synthesis::Vote;
  if (weighted) {
    // The best keep_share by trace score (at least one); a trace without a score cannot rank.
    voters.erase(std::remove_if(voters.begin(), voters.end(),
                                [](const AgentOutcome* a) { return !std::isfinite(a->confidence); }),
                 voters.end());
    std::stable_sort(voters.begin(), voters.end(),
                     [](const AgentOutcome* x, const AgentOutcome* y) { return x->confidence > y->confidence; });
    if (c.synthesis == Synthesis::Confidence) {
      const auto keep = static_cast<size_t>(std::ceil(keep_share * static_cast<double>(voters.size()) - 1e-9));
      voters.resize(std::min(voters.size(), std::max<size_t>(1, keep)));
    } else if (std::isfinite(c.threshold)) {  // online: what reached the warm-up threshold
      voters.erase(std::remove_if(voters.begin(), voters.end(),
                                  [&](const AgentOutcome* a) { return a->confidence < c.threshold; }),
                   voters.end());
    }
  }
  struct Group {
    double weight = 0;
    int votes = 0;
    int first = 0;
    AgentOutcome* best = nullptr;
  };
  std::map<std::string, Group> groups;
  double total = 0;
  for (AgentOutcome* a : voters) {
    a->counted = true;
    // Scores are -mean logprob (>= 0); a floor keeps a near-zero score from voting with no weight at all.
    a->weight = weighted ? std::max(a->confidence, 1e-3) : 1.0;
    total += a->weight;
    auto [it, fresh] = groups.try_emplace(a->key);
    Group& g = it->second;
    if (fresh) g.first = a->index;
    g.weight += a->weight;
    ++g.votes;
    g.first = std::min(g.first, a->index);
    if (!g.best || (weighted ? a->confidence > g.best->confidence : a->index < g.best->index)) g.best = a;
  }
  const Group* top = nullptr;
  for (const auto& [key, g] : groups)
    if (!top || g.weight > top->weight + 1e-12 ||
        (std::abs(g.weight - top->weight) <= 1e-12 &&
         (g.votes > top->votes || (g.votes == top->votes && g.first < top->first))))
      top = &g;
  if (!top) return;
  for (size_t i = 0; i < c.agents.size(); ++i)
    if (&c.agents[i] == top->best) c.winner = static_cast<int>(i);
  c.support = total > 0 ? top->weight / total : 0;
  c.winner_votes = top->votes;
  c.answer = top->best->answer;
  c.thinking = top->best->thinking;
}

// ---------------------------------------------------------------------------------------------------------------

Contemplator::Contemplator(const Tokenizer& tok, ContemplateParams params, RequestParams request,
                           RunnerFactory make_runner, AgentEventCallback on_agent_event)
    : tok_(tok),
      params_(params),
      request_(std::move(request)),
      make_runner_(std::move(make_runner)),
      on_agent_event_(std::move(on_agent_event)),
      threshold_(kNaN) {
  params_.validate();
  if (!make_runner_) throw MuseError("Contemplator: no tool runner factory", ErrorKind::Internal);
  request_.top_logprobs = std::max(request_.top_logprobs, params_.top_k);
  request_.hold = false;
  SamplingParams& s = request_.sampling;
  if (params_.answer_reserve > 0 && s.think_end_token >= 0) {
    const int room = std::max(s.min_thinking_tokens, s.max_tokens - params_.answer_reserve);
    if (room > 0) s.max_thinking_tokens = s.max_thinking_tokens < 0 ? room : std::min(s.max_thinking_tokens, room);
  }
  agents_.reserve(static_cast<size_t>(params_.agents));  // later waves must not move agents being handled
}

void Contemplator::start(Engine& engine, const Prompt& prompt, std::shared_ptr<EventQueue> events) {
  events_ = std::move(events);
  started_ = std::chrono::steady_clock::now();
  RequestParams hold;
  hold.hold = true;
  hold.sampling.max_tokens = 1;
  hold.sampling.think_end_token = request_.sampling.think_end_token;  // "answer now" on it reaches later waves
  hold.events = events_;
  holder_ = engine.add(prompt, hold);
  ids_.insert(holder_);
  prompt_tokens_ = static_cast<int64_t>(prompt.tokens.size());
  try {
    launch(engine, params_.warmup_agents(), 0);
  } catch (...) {
    engine.cancel(holder_);  // a holder nobody forks would stay parked, holding its blocks
    throw;
  }
}

void Contemplator::launch(Engine& engine, int count, int wave) {
  std::vector<RequestParams> params;
  const int first = static_cast<int>(agents_.size());
  for (int i = first; i < first + count; ++i) {
    RequestParams p = request_;
    p.sampling.temperature = params_.agent_temperature(i);
    p.sampling.seed = seed_mix(request_.sampling.seed, static_cast<uint64_t>(i) + 1, 0xa9e47);
    p.events = events_;
    p.on_token = nullptr;
    Agent agent{0, wave, make_runner_(i), ConfidenceTrace(params_.window), {}, false, AgentStop::Finished, {}};
    agent.runner.configure(p);
    agent.outcome.index = i;
    agent.outcome.wave = wave;
    agent.outcome.temperature = p.sampling.temperature;
    agent.outcome.seed = p.sampling.seed;
    params.push_back(std::move(p));
    agents_.push_back(std::move(agent));
  }
  const auto ids = engine.fork(holder_, count, std::move(params));
  for (int i = 0; i < count; ++i) {
    agents_[static_cast<size_t>(first + i)].id = ids[static_cast<size_t>(i)];
    ids_.insert(ids[static_cast<size_t>(i)]);
  }
}

void Contemplator::on_event(Engine& engine, const TokenEvent& event) {
  if (event.id == holder_) {
    if (!event.finished) return;
    holder_finished_ = true;
    if (!released_) {
      // The holder failed before its agents were done (its prompt could not run): the agents already forked
      // start over on their own and finish; no later wave can start.
      error_ = "the prompt's holder ended early (" + std::string(finish_reason_name(event.finish_reason)) + ")";
      released_ = true;
    }
    return;
  }
  auto it = std::find_if(agents_.begin(), agents_.end(), [&](const Agent& a) { return a.id == event.id; });
  if (it == agents_.end()) return;
  Agent& agent = *it;
  answer_call(engine, agent.runner, event);
  if (event.token >= 0) {
    agent.tokens.push_back(event.token);
    if (!event.forced) agent.trace.add(event.top_logprobs);
  }
  if (event.finished) {
    agent.finished = true;
    agent.outcome.finish_reason = event.finish_reason;
    finish_agent(engine, agent);
    if (on_agent_event_) on_agent_event_(agent.outcome.index, event, &agent.outcome);
    return;
  }
  if (on_agent_event_) on_agent_event_(agent.outcome.index, event, nullptr);
  // Online: a later agent whose window falls below the warm-up threshold will not count; stop it now.
  if (params_.synthesis == Synthesis::Online && agent.wave == 1 && agent.stop == AgentStop::Finished &&
      agent.trace.full() && std::isfinite(threshold_) && agent.trace.current() < threshold_) {
    agent.stop = AgentStop::LowConfidence;
    engine.cancel(agent.id);
  }
}

void Contemplator::finish_agent(Engine& engine, Agent& agent) {
  AgentOutcome& o = agent.outcome;
  const ParsedReply reply = parse_reply(tok_, agent.tokens);
  o.thinking = reply.thinking;
  o.answer = reply.answer;
  o.key = answer_key(reply.answer);
  o.confidence = agent.trace.lowest();
  o.mean_confidence = agent.trace.mean();
  o.tokens = static_cast<int>(agent.tokens.size());
  o.thinking_tokens = reply.thinking_tokens;
  o.calls = agent.runner.calls();
  o.stop = agent.stop;
  if (o.finish_reason == FinishReason::Error) o.stop = AgentStop::Failed;

  const bool all_finished = std::all_of(agents_.begin(), agents_.end(), [](const Agent& a) { return a.finished; });
  if (params_.synthesis == Synthesis::Online && !released_) {
    const int warmup = params_.warmup_agents();
    const bool later_wave_started = static_cast<int>(agents_.size()) > warmup;
    if (!later_wave_started && all_finished) {
      // The warm-up wave is in: its scores set the threshold, and a consensus among it ends the run here.
      std::vector<double> scores;
      for (const auto& a : agents_)
        if (std::isfinite(a.outcome.confidence) && a.outcome.finish_reason == FinishReason::Stop)
          scores.push_back(a.outcome.confidence);
      if (!scores.empty()) {
        std::sort(scores.begin(), scores.end());
        // The score keep_share of the warm-up reaches (linear interpolation between order statistics).
        const double q = (1.0 - params_.keep_share) * static_cast<double>(scores.size() - 1);
        const auto lo = static_cast<size_t>(std::floor(q));
        const size_t hi = std::min(scores.size() - 1, lo + 1);
        threshold_ = scores[lo] + (q - static_cast<double>(lo)) * (scores[hi] - scores[lo]);
      }
      const Contemplation now = snapshot();
      if (reached_consensus(now) && params_.agents > warmup) {
        consensus_stop_ = true;
      } else if (params_.agents > warmup) {
        launch(engine, params_.later_agents_at_once(), 1);
        return;
      }
    } else if (later_wave_started && !consensus_stop_) {
      if (o.stop == AgentStop::Finished && reached_consensus(snapshot())) {
        consensus_stop_ = true;
        stop_others(engine, AgentStop::Consensus);
      } else if (static_cast<int>(agents_.size()) < params_.agents) {
        launch(engine, 1, 1);  // a place in flight came free (online_parallel): the next agent takes it
        return;
      }
    }
  }
  if (std::all_of(agents_.begin(), agents_.end(), [](const Agent& a) { return a.finished; })) release(engine);
}

bool Contemplator::reached_consensus(const Contemplation& now) const {
  return now.winner >= 0 && now.support >= params_.consensus && now.winner_votes >= params_.warmup_agents();
}

void Contemplator::stop_others(Engine& engine, AgentStop why) {
  for (auto& a : agents_)
    if (!a.finished && a.stop == AgentStop::Finished) {
      a.stop = why;
      engine.cancel(a.id);
    }
}

void Contemplator::release(Engine& engine) {
  if (released_) return;
  released_ = true;
  engine.cancel(holder_);
}

const std::vector<ToolCallRecord>& Contemplator::agent_calls(int index) const {
  static const std::vector<ToolCallRecord> none;
  if (index < 0 || index >= static_cast<int>(agents_.size())) return none;
  return agents_[static_cast<size_t>(index)].runner.calls();
}

bool Contemplator::done() const {
  return holder_finished_ && std::all_of(agents_.begin(), agents_.end(), [](const Agent& a) { return a.finished; });
}

Contemplation Contemplator::snapshot() const {
  Contemplation c;
  c.synthesis = params_.synthesis;
  c.agents_requested = params_.agents;
  c.threshold = threshold_;
  for (const auto& a : agents_)
    if (a.finished) c.agents.push_back(a.outcome);
  tally(c, params_.keep_share);
  return c;
}

Contemplation Contemplator::result(Engine& engine) {
  if (!done()) throw MuseError("Contemplator::result before every agent finished", ErrorKind::Internal);
  for (auto& a : agents_) a.outcome.sequence = engine.wait(a.id);
  const SequenceResult held = engine.wait(holder_);
  Contemplation c = snapshot();
  c.consensus_stop = consensus_stop_;
  c.prompt_tokens = prompt_tokens_;
  c.cached_tokens = held.cached_tokens;
  c.error = error_;
  for (const auto& a : c.agents) c.tokens += a.tokens;
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return c;
}

void Contemplator::abandon(Engine& engine) {
  released_ = true;  // no later wave
  for (const SeqId id : ids_) engine.cancel(id);
  for (const SeqId id : ids_) {
    try {
      engine.wait(id);
    } catch (const std::exception&) {
    }
  }
  for (auto& a : agents_) a.finished = true;
  holder_finished_ = true;
}

// ---------------------------------------------------------------------------------------------------------------

std::vector<Contemplation> run_contemplations(Engine& engine, const std::vector<Contemplator*>& contemplators,
                                              const std::vector<Prompt>& prompts, int concurrency) {
  if (prompts.size() != contemplators.size())
    throw MuseError("run_contemplations: " + std::to_string(prompts.size()) + " prompts for " +
                    std::to_string(contemplators.size()) + " contemplators");
  const size_t limit = concurrency > 0 ? static_cast<size_t>(concurrency) : prompts.size();
  auto events = std::make_shared<EventQueue>();
  std::vector<Contemplation> out(prompts.size());
  std::vector<size_t> running;
  size_t next = 0, finished = 0;
  const bool looping = engine.looping();
  while (finished < prompts.size()) {
    while (running.size() < limit && next < prompts.size()) {
      contemplators[next]->start(engine, prompts[next], events);
      running.push_back(next++);
    }
    if (!looping) engine.step();
    auto event = looping ? events->pop(std::chrono::milliseconds(100)) : events->try_pop();
    for (; event; event = events->try_pop())
      for (size_t i : running)
        if (contemplators[i]->owns(event->id)) {
          contemplators[i]->on_event(engine, *event);
          break;
        }
    for (size_t k = 0; k < running.size();) {
      const size_t i = running[k];
      if (!contemplators[i]->done()) {
        ++k;
        continue;
      }
      out[i] = contemplators[i]->result(engine);
      ++finished;
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return out;
}

std::vector<Contemplation> run_contemplations(Engine& engine, std::vector<Contemplator>& contemplators,
                                              const std::vector<Prompt>& prompts, int concurrency) {
  std::vector<Contemplator*> pointers;
  for (auto& c : contemplators) pointers.push_back(&c);
  return run_contemplations(engine, pointers, prompts, concurrency);
}

Contemplation contemplate(Engine& engine, const Prompt& prompt, Contemplator& contemplator) {
  return std::move(run_contemplations(engine, std::vector<Contemplator*>{&contemplator}, {prompt}).front());
}

}  // namespace muse

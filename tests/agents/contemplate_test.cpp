#include "agents/contemplate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "tokenizer/chat_format.h"
#include "tools/trace_tools.h"
#include "util/error.h"

namespace muse {
namespace {

std::string test_dir() { return ::testing::TempDir() + "muse_contemplate_test_" + std::to_string(::getpid()); }

class Contemplate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::filesystem::create_directories(test_dir());
    TokenizerTrainParams params;
    params.vocab_size = 420;
    train_tokenizer({"What is 2+3? The answer is 5 or 7 or 9.", "0123456789 abc"}, params,
                    test_dir() + "/tokenizer.model");
    tok_ = new Tokenizer(Tokenizer::load(test_dir() + "/tokenizer.model"));
    std::filesystem::remove_all(test_dir());
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static const Tokenizer& tok() { return *tok_; }

  static Transformer random_model() {
    at::set_num_threads(1);
    ModelConfig c = preset_config("tiny");
    c.vocab_size = tok().vocab_size();
    c.n_layers = 1;
    c.max_seq_len = 256;
    torch::manual_seed(5);
    Transformer model(c);
    model->eval();
    return model;
  }

  // Replies drawn from a few tokens so that agents often agree and sometimes do not: thinking, then <|/think|>,
  // an answer of digits, <|end|>.
  static RequestParams request(int max_tokens = 24) {
    RequestParams p;
    p.sampling.max_tokens = max_tokens;
    p.sampling.stop_tokens = {tok().special(Special::EndOfTurn)};
    p.sampling.think_end_token = tok().special(Special::ThinkEnd);
    p.sampling.seed = 11;
    for (const char* digit : {"5", "7"}) p.allowed_tokens.push_back(tok().encode(digit).back());
    p.allowed_tokens.push_back(tok().special(Special::ThinkEnd));
    p.allowed_tokens.push_back(tok().special(Special::EndOfTurn));
    return p;
  }
  static Prompt prompt() {
    return Prompt::of(render_prompt(tok(), {text_segment("What is 2+3?")}, RenderOptions{}));
  }
  static Contemplator::RunnerFactory no_tools() {
    return [](int) {
      ToolUseParams off;
      off.enabled = false;
      return ToolRunner(tok(), builtin_tools(), ToolContext{}, off);
    };
  }

 private:
  static inline Tokenizer* tok_ = nullptr;
};

TEST(ConfidenceTrace, WindowMeansAndTheLowestOfThem) {
  ConfidenceTrace trace(2);
  EXPECT_TRUE(std::isnan(trace.lowest()));
  trace.add(4.0);
  EXPECT_DOUBLE_EQ(trace.current(), 4.0);
  EXPECT_DOUBLE_EQ(trace.lowest(), 4.0);  // fewer tokens than a window: the mean of all
  EXPECT_FALSE(trace.full());
  trace.add(2.0);
  trace.add(6.0);
  trace.add(8.0);
  EXPECT_DOUBLE_EQ(trace.current(), 7.0);
  EXPECT_DOUBLE_EQ(trace.lowest(), 3.0);  // windows: 3, 4, 7
  EXPECT_DOUBLE_EQ(trace.mean(), 5.0);
  // Token confidence: -(1/k) * sum of the top-k logprobs; a peaked distribution scores high.
  ConfidenceTrace one(1);
  one.add(std::vector<std::pair<int, float>>{{1, -0.01f}, {2, -9.0f}, {3, -11.0f}});
  EXPECT_NEAR(one.current(), (0.01 + 9 + 11) / 3, 1e-5);
}

TEST(Contemplation, AnswerKeysIgnoreCaseAndSpaces) {
  EXPECT_EQ(answer_key(" 3 * 8 = 24\n"), "3*8=24");
  EXPECT_EQ(answer_key("Melon"), answer_key("melon "));
  EXPECT_EQ(answer_key(" \t"), "");
}

AgentOutcome agent(int index, const std::string& answer, double confidence) {
  AgentOutcome a;
  a.index = index;
  a.answer = answer;
  a.key = answer_key(answer);
  a.confidence = confidence;
  a.finish_reason = FinishReason::Stop;
  return a;
}

TEST(Contemplation, VoteCountsHeadsConfidenceTrustsTheSureOnes) {
  Contemplation c;
  c.agents = {agent(0, "12", 2.0), agent(1, "12", 2.5), agent(2, "12", 1.0), agent(3, "15", 9.0),
              agent(4, "15", 8.0), agent(5, "", 9.5)};
  c.agents[5].finish_reason = FinishReason::Length;  // ran out of tokens: no vote
  c.synthesis = Synthesis::Vote;
  tally(c, 0.5);
  EXPECT_EQ(c.answer, "12");
  EXPECT_EQ(c.winner, 0);  // unweighted: the earliest agent of the winning answer
  EXPECT_DOUBLE_EQ(c.support, 3.0 / 5.0);
  EXPECT_FALSE(c.agents[5].counted);
  // Confidence: the top half by trace score (agents 3, 4 and 1) vote, weighted by score.
  c.synthesis = Synthesis::Confidence;
  tally(c, 0.5);
  EXPECT_EQ(c.answer, "15");
  EXPECT_EQ(c.winner, 3);
  EXPECT_TRUE(c.agents[1].counted);
  EXPECT_FALSE(c.agents[0].counted);
  EXPECT_NEAR(c.support, 17.0 / 19.5, 1e-12);
  // Online: what reached the warm-up threshold votes; a stopped agent never does.
  c.synthesis = Synthesis::Online;
  c.threshold = 2.2;
  c.agents[3].stop = AgentStop::LowConfidence;
  tally(c, 0.5);
  EXPECT_EQ(c.answer, "15");
  EXPECT_FALSE(c.agents[3].counted);
  EXPECT_TRUE(c.agents[1].counted);
  EXPECT_NEAR(c.support, 8.0 / 10.5, 1e-12);
  // Nobody answered: no winner.
  Contemplation none;
  none.agents = {agent(0, " ", 1.0)};
  tally(none, 1.0);
  EXPECT_EQ(none.winner, -1);
  EXPECT_EQ(none.answer, "");
}

TEST(Contemplation, BadParamsNameTheField) {
  ContemplateParams p;
  p.agents = 0;
  EXPECT_THROW(
      {
        try {
          p.validate();
        } catch (const MuseError& e) {
          EXPECT_NE(std::string(e.what()).find("agents"), std::string::npos);
          throw;
        }
      },
      MuseError);
  p = {};
  p.keep_share = 0;
  EXPECT_THROW(p.validate(), MuseError);
  p = {};
  p.consensus = 0.4;
  EXPECT_THROW(p.validate(), MuseError);
  p = {};
  p.answer_reserve = -1;
  EXPECT_THROW(p.validate(), MuseError);
  EXPECT_THROW(parse_synthesis("majority", "--synthesis"), MuseError);
  EXPECT_EQ(parse_synthesis("online", "--synthesis"), Synthesis::Online);
  EXPECT_EQ(parse_answer_mode("contemplating", "--mode"), AnswerMode::Contemplating);
  EXPECT_THROW(parse_answer_mode("deep", "--mode"), MuseError);
}

// Each agent is a fork of one prefilled prompt, yet writes exactly what an independent request with its
// temperature and seed would; the vote is the majority of their answers.
TEST_F(Contemplate, AgentsAreIndependentSamplesOfOnePrefill) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, EngineOptions{});
  ContemplateParams params;
  params.agents = 6;
  params.synthesis = Synthesis::Vote;
  Contemplator contemplator(tok(), params, request(), no_tools());
  const Contemplation c = contemplate(engine, prompt(), contemplator);
  ASSERT_EQ(c.agents.size(), 6u);
  EXPECT_EQ(c.error, "");
  const int64_t prompt_tokens = static_cast<int64_t>(prompt().tokens.size());
  EXPECT_EQ(engine.stats().prefill_tokens, prompt_tokens);  // prefilled once, by the holder
  EXPECT_EQ(engine.pool().used_blocks(), 0);
  EXPECT_TRUE(engine.idle());

  Engine alone(model, torch::kCPU, EngineOptions{});
  std::map<std::string, int> votes;
  int64_t tokens = 0;
  for (const auto& a : c.agents) {
    RequestParams p = request();
    p.sampling.temperature = a.temperature;
    p.sampling.seed = a.seed;
    p.top_logprobs = params.top_k;
    const auto r = alone.run_batch({prompt()}, p).front();
    EXPECT_EQ(a.sequence.tokens, r.tokens) << "agent " << a.index;
    EXPECT_EQ(a.tokens, static_cast<int>(r.tokens.size()));
    EXPECT_EQ(a.stop, AgentStop::Finished);
    EXPECT_TRUE(std::isfinite(a.confidence));
    if (a.counted) ++votes[a.key];
    tokens += a.tokens;
  }
  EXPECT_DOUBLE_EQ(c.agents.front().temperature, params.agent_temperature(0));
  EXPECT_NE(c.agents.front().temperature, c.agents.back().temperature);
  EXPECT_EQ(c.tokens, tokens);
  if (c.winner >= 0) {
    for (const auto& [key, n] : votes) EXPECT_LE(n, votes[answer_key(c.answer)]) << key;
  }
}

// An agent's thinking closes answer_reserve tokens before max_tokens, so none is cut off before it answers.
TEST_F(Contemplate, EveryAgentKeepsRoomForItsAnswer) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, EngineOptions{});
  ContemplateParams params;
  params.agents = 6;
  params.answer_reserve = 8;
  RequestParams req = request(24);
  // Only "5" and "7", until the budget closes the thinking (the random model would stop at any time).
  req.banned_tokens = {tok().special(Special::ThinkEnd), tok().special(Special::EndOfTurn)};
  Contemplator contemplator(tok(), params, req, no_tools());
  const Contemplation c = contemplate(engine, prompt(), contemplator);
  ASSERT_EQ(c.agents.size(), 6u);
  const int think_end = tok().special(Special::ThinkEnd);
  for (const auto& a : c.agents) {
    const auto& t = a.sequence.tokens;
    const auto end = std::find(t.begin(), t.end(), think_end);
    ASSERT_NE(end, t.end()) << "agent " << a.index << " never closed its thinking (" << t.size() << " tokens, stop "
                            << agent_stop_name(a.stop) << ")";
    EXPECT_EQ(end - t.begin(), 16) << "closed by the budget, 24 - 8 tokens in";
    EXPECT_LT(end - t.begin() + 1, static_cast<std::ptrdiff_t>(t.size())) << "an answer follows";
  }
}

// Online runs the same agents (same seeds by index) but stops the unsure ones: each agent's tokens are a prefix
// of what it writes when nothing stops it, and the run costs no more tokens than voting with every agent.
TEST_F(Contemplate, OnlineStopsAgentsEarlyAndNeverCostsMore) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, EngineOptions{});
  ContemplateParams params;
  params.agents = 8;
  params.window = 2;
  params.keep_share = 0.9;  // an aggressive threshold: the score 90% of the warm-up reach (almost its best)
  int runs_that_stopped = 0;
  for (uint64_t seed = 11; seed < 19; ++seed) {
    RequestParams r = request(40);
    r.sampling.seed = seed;
    params.synthesis = Synthesis::Vote;
    Contemplator full(tok(), params, r, no_tools());
    const Contemplation all = contemplate(engine, prompt(), full);
    params.synthesis = Synthesis::Online;
    Contemplator online(tok(), params, r, no_tools());
    const Contemplation fast = contemplate(engine, prompt(), online);
    EXPECT_LE(fast.tokens, all.tokens);
    int stopped = 0;
    for (const auto& a : fast.agents) {
      const auto& same = all.agents[static_cast<size_t>(a.index)];
      ASSERT_LE(a.sequence.tokens.size(), same.sequence.tokens.size());
      EXPECT_TRUE(std::equal(a.sequence.tokens.begin(), a.sequence.tokens.end(), same.sequence.tokens.begin()));
      EXPECT_EQ(a.wave, a.index < params.warmup_agents() ? 0 : 1);
      if (a.stop == AgentStop::LowConfidence) {
        ++stopped;
        EXPECT_FALSE(a.counted);
        EXPECT_GE(a.tokens, params.window);
      }
    }
    EXPECT_TRUE(fast.consensus_stop || static_cast<int>(fast.agents.size()) == params.agents);
    runs_that_stopped += stopped > 0 || fast.consensus_stop ? 1 : 0;
  }
  // The savings themselves are measured on the shipped model (ShippedModel.Contemplating*): this random model's
  // agents end within a few tokens.
  EXPECT_GT(runs_that_stopped, 0) << "online never stopped anything in 8 runs: the test shows nothing";
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

// online_parallel: after the warm-up, at most that many agents decode at once, each ending one starting the next;
// every agent still writes what it writes in a run with all of them at once (its seed is its index's).
TEST_F(Contemplate, OnlineParallelStartsLaterAgentsAFewAtATime) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, EngineOptions{});
  ContemplateParams params;
  params.agents = 8;
  params.window = 2;
  params.synthesis = Synthesis::Online;
  params.online_parallel = 2;
  EXPECT_EQ(params.later_agents_at_once(), 2);
  int started_one_by_one = 0;
  for (uint64_t seed = 11; seed < 17; ++seed) {
    RequestParams r = request(40);
    r.sampling.seed = seed;
    std::set<int> active;
    size_t most_later_active = 0;
    Contemplator pooled(tok(), params, r, no_tools(), [&](int agent, const TokenEvent&, const AgentOutcome* done) {
      if (agent < params.warmup_agents()) return;
      if (done) active.erase(agent);
      else active.insert(agent);
      most_later_active = std::max(most_later_active, active.size());
    });
    const Contemplation c = contemplate(engine, prompt(), pooled);
    EXPECT_LE(most_later_active, 2u);
    EXPECT_TRUE(c.consensus_stop || static_cast<int>(c.agents.size()) == params.agents);
    ContemplateParams vote_params = params;
    vote_params.synthesis = Synthesis::Vote;
    Contemplator all(tok(), vote_params, r, no_tools());
    const Contemplation everyone = contemplate(engine, prompt(), all);
    for (const auto& a : c.agents) {
      const auto& same = everyone.agents[static_cast<size_t>(a.index)];
      ASSERT_LE(a.sequence.tokens.size(), same.sequence.tokens.size());
      EXPECT_TRUE(std::equal(a.sequence.tokens.begin(), a.sequence.tokens.end(), same.sequence.tokens.begin()));
    }
    started_one_by_one += static_cast<int>(c.agents.size()) > params.warmup_agents() + 2 ? 1 : 0;
  }
  EXPECT_GT(started_one_by_one, 0) << "no run started an agent after a place came free: the test shows nothing";
  EXPECT_EQ(engine.pool().used_blocks(), 0);
  params.online_parallel = 9;
  EXPECT_THROW(params.validate(), MuseError);
}

// Many problems at once on one queue (evaluation), a few at a time: each result is the one it would be alone.
TEST_F(Contemplate, ManyRunsAtOnceMatchRunsAlone) {
  auto model = random_model();
  Engine engine(model, torch::kCPU, EngineOptions{});
  ContemplateParams params;
  params.agents = 3;
  std::vector<Contemplator> many;
  std::vector<Prompt> prompts;
  for (int i = 0; i < 4; ++i) {
    RequestParams r = request();
    r.sampling.seed = 100 + static_cast<uint64_t>(i);
    many.emplace_back(tok(), params, r, no_tools());
    prompts.push_back(prompt());
  }
  const auto results = run_contemplations(engine, many, prompts, 2);
  ASSERT_EQ(results.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    RequestParams r = request();
    r.sampling.seed = 100 + static_cast<uint64_t>(i);
    Contemplator one(tok(), params, r, no_tools());
    const Contemplation alone = contemplate(engine, prompt(), one);
    ASSERT_EQ(alone.agents.size(), results[static_cast<size_t>(i)].agents.size());
    for (size_t a = 0; a < alone.agents.size(); ++a)
      EXPECT_EQ(alone.agents[a].sequence.tokens, results[static_cast<size_t>(i)].agents[a].sequence.tokens);
    EXPECT_EQ(alone.answer, results[static_cast<size_t>(i)].answer);
  }
  EXPECT_EQ(engine.pool().used_blocks(), 0);
}

TEST_F(Contemplate, APromptTheEngineRefusesIsAClearError) {
  EngineOptions small;
  small.kv_mem = int64_t{1} << 16;
  Engine engine(random_model(), torch::kCPU, small);
  Contemplator contemplator(tok(), ContemplateParams{}, request(), no_tools());
  std::vector<int> huge(4000, tok().encode("5").back());
  EXPECT_THROW(contemplate(engine, Prompt::of(huge), contemplator), MuseError);
}

}  // namespace
}  // namespace muse

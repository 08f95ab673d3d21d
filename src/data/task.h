// The task world: every ability Muse trains is a Task that generates problems with a reference
// step-by-step trace and verifies any answer, so every answer the model gives can be scored.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/segment.h"
#include "data/surface.h"
#include "util/rng.h"

namespace muse {

// The call that spawns sub-agents (agents/spawn.h): its result is its children's answers, one text segment each.
inline constexpr const char* kSpawnTool = "spawn";

// A tool call inside a reference trace, at byte `at` of the reasoning text: the model writes the call, the
// harness forces the result in (never a loss target). Tasks write the call; the result is filled by running the
// real tool (tools/trace_tools.h), so training shows exactly what the tool returns at run time (a spawn's
// children's answers are filled by the task itself).

struct TraceToolCall {
  size_t at = 0;
  std::string name;
  nlohmann::json arguments;
  std::vector<Segment> result;  // text, or a zoom's crop as an image segment; empty until the tool ran
  bool filled = false;
};

struct Example {
  std::string task;                // task name, e.g. "add"
  int difficulty = 1;              // the task's difficulty dial
  std::vector<Segment> prompt;     // what the user asks
  std::string reasoning;           // reference step-by-step trace (goes inside the thinking span)
  std::string answer;              // reference final answer
  nlohmann::json meta;             // whatever verify() needs beyond the answer (e.g. Countdown numbers)
  bool reasoning_cut = false;      // training only: `reasoning` was cut short, as a thinking budget does
  // The problem without its surface (wording, picture style), e.g. "47+85"; empty: the prompt itself. The
  // train/held-out split hashes this, so a held-out problem stays held out in every wording.
  std::string problem_key;
  // Tool calls the reasoning makes, in order of `at` (empty: none; the trace is solved in the head).
  std::vector<TraceToolCall> tool_calls;
};

// Train and held-out problems are disjoint by construction: a problem's split is a hash of its prompt.
enum class Split { Train, Heldout };

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual int min_difficulty() const = 0;
  virtual int max_difficulty() const = 0;
  // A fresh problem at this difficulty, worded (and drawn) from the surface's pool. Throws MuseError if
  // difficulty is out of range.
  virtual Example generate(Rng& rng, int difficulty, Surface surface) const = 0;
  // The trained surface: what training sees. (Subclasses say `using Task::generate;` to keep this overload.)
  Example generate(Rng& rng, int difficulty) const { return generate(rng, difficulty, Surface::Trained); }
  // Reward in [0, 1] for `answer` (the model's final answer text, surrounding whitespace ignored).
  virtual double verify(const Example& example, const std::string& answer) const = 0;
  // True when its reference traces spawn sub-agents: evaluations that score the model as a person meets it
  // (the report card) run it with spawning on, as `muse generate` does by default.
  virtual bool spawns_sub_agents() const { return false; }

  // generate() restricted to one split (rejection on the problem's hash; ~10% of problems are held out).
  Example sample(Rng& rng, int difficulty, Split split, Surface surface = Surface::Trained) const;
};

// For verify() implementations: the answer without surrounding spaces, tabs and line breaks.
std::string trim_answer(const std::string& answer);

// For generate() implementations: throws MuseError unless difficulty is within the task's range.
void check_difficulty(const Task& task, int difficulty);

// Which split a prompt belongs to (stable across runs and platforms).
Split split_of(const std::string& prompt_text);
// The split of an example: of its problem_key, or of its prompt when it has none.
Split split_of(const Example& example);

// Registry. make_task throws MuseError naming the known tasks when `name` is unknown.
std::unique_ptr<Task> make_task(const std::string& name);
std::vector<std::string> task_names();

}  // namespace muse

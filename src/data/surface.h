// The surface of a problem: how it is put to the model — the wording of its question and, for pictures, the
// rendering style — as opposed to the problem itself (the numbers, the scene, the table).
//
// Every task words its prompt from a pool of templates and draws its pictures from a space of styles. Each
// pool has a disjoint held-out part that training never sees: a model that learned the task, not the
// generator's one phrasing, scores within a few points on it (`muse eval --surface heldout`).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "util/rng.h"

namespace muse {

enum class Surface { Trained, Heldout };
const char* surface_name(Surface surface);            // "trained" | "heldout"
Surface parse_surface(const std::string& name);       // MuseError naming the known surfaces

// A family's prompt templates. `{slot}` marks where fill_wording puts a value; "{{" and "}}" are literal braces.
// `trained` and `heldout` must be disjoint and non-empty (checked by validate_wordings in tests and on first use).
struct WordingPool {
  std::vector<std::string> trained;
  std::vector<std::string> heldout;
};

using WordingSlots = std::vector<std::pair<std::string, std::string>>;

// A template from the pool's part for `surface`, uniformly. MuseError if that part is empty.
const std::string& pick_wording(const WordingPool& pool, Surface surface, Rng& rng);
// The template with every {slot} replaced. MuseError naming the slot when the template uses one that `slots`
// does not give, or when a brace is unbalanced.
std::string fill_wording(const std::string& pattern, const WordingSlots& slots);
// pick_wording, fill_wording, then decorate: every family's prompts vary the same way around their template.
std::string word(const WordingPool& pool, Surface surface, Rng& rng, const WordingSlots& slots);

// People wrap a question in greetings and pleasantries ("Hi! ... Thanks!"). Each side is drawn independently
// (a prefix with probability 1/4, a suffix with 1/4) from the surface's part of a shared pool — the held-out
// part never occurs in training — so a template's words, not its wrapping, are what the model must read.
// The pools hold no digits, braces or table syntax, so they never change what a problem asks.
std::string decorate(std::string text, Surface surface, Rng& rng);
// `text` with one decoration of either surface removed from each side (tests match prompts to templates).
std::string undecorated(const std::string& text);
// MuseError when a part is empty or the parts share a template (`family` names the pool in the message).
void validate_wordings(const std::string& family, const WordingPool& pool);

}  // namespace muse

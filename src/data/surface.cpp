#include "data/surface.h"

#include <algorithm>

#include "util/error.h"

namespace muse {

const char* surface_name(Surface surface) { return surface == Surface::Trained ? "trained" : "heldout"; }

Surface parse_surface(const std::string& name) {
  if (name == "trained") return Surface::Trained;
  if (name == "heldout") return Surface::Heldout;
  throw MuseError("unknown surface '" + name + "' (known: trained, heldout)");
}

const std::string& pick_wording(const WordingPool& pool, Surface surface, Rng& rng) {
  const auto& part = surface == Surface::Trained ? pool.trained : pool.heldout;
  if (part.empty())
    throw MuseError(std::string("wording pool has no ") + surface_name(surface) + " templates", ErrorKind::Internal);
  return part[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(part.size()) - 1))];
}

std::string fill_wording(const std::string& pattern, const WordingSlots& slots) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if ((c == '{' || c == '}') && i + 1 < pattern.size() && pattern[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '}') throw MuseError("wording \"" + pattern + "\": unbalanced '}'", ErrorKind::Internal);
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = pattern.find('}', i);
    if (close == std::string::npos) throw MuseError("wording \"" + pattern + "\": unbalanced '{'", ErrorKind::Internal);
    const std::string slot = pattern.substr(i + 1, close - i - 1);
    const auto it = std::find_if(slots.begin(), slots.end(), [&](const auto& s) { return s.first == slot; });
    if (it == slots.end())
      throw MuseError("wording \"" + pattern + "\": no value for slot {" + slot + "}", ErrorKind::Internal);
    out += it->second;
    i = close;
  }
  return out;
}

std::string word(const WordingPool& pool, Surface surface, Rng& rng, const WordingSlots& slots) {
  return decorate(fill_wording(pick_wording(pool, surface, rng), slots), surface, rng);
}

namespace {

const WordingPool& prefixes() {
  static const WordingPool pool{
      {"Hi! ", "Quick question: ", "Please, ", "Q: ", "Hey, ", "Question: ", "Can you help? ", "Okay. "},
      {"Hello there, ", "One more: ", "Here is one: ", "Good morning! "}};
  return pool;
}

const WordingPool& suffixes() {
  static const WordingPool pool{{" Thanks!", " Show your steps.", " Please.", " Thank you.", " :)", " Be careful."},
                                {" Cheers.", " Thanks a lot!", " Take your time."}};
  return pool;
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

}  // namespace

std::string decorate(std::string text, Surface surface, Rng& rng) {
  if (rng.bernoulli(0.25)) text = pick_wording(prefixes(), surface, rng) + text;
  if (rng.bernoulli(0.25)) text += pick_wording(suffixes(), surface, rng);
  return text;
}

std::string undecorated(const std::string& text) {
  std::string out = text;
  const auto strip_one = [&out](const WordingPool& pool, bool front) {
    for (const auto* part : {&pool.trained, &pool.heldout})
      for (const auto& d : *part)
        if (out.size() > d.size() && (front ? starts_with(out, d) : ends_with(out, d))) {
          out.erase(front ? 0 : out.size() - d.size(), d.size());
          return;
        }
  };
  strip_one(prefixes(), true);
  strip_one(suffixes(), false);
  return out;
}

void validate_wordings(const std::string& family, const WordingPool& pool) {
  if (pool.trained.empty() || pool.heldout.empty())
    throw MuseError("wordings of '" + family + "': both the trained and the held-out pool need templates",
                    ErrorKind::Internal);
  for (const auto& t : pool.heldout)
    if (std::find(pool.trained.begin(), pool.trained.end(), t) != pool.trained.end())
      throw MuseError("wordings of '" + family + "': \"" + t + "\" is in both pools", ErrorKind::Internal);
}

}  // namespace muse

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
  return fill_wording(pick_wording(pool, surface, rng), slots);
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

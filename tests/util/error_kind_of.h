// For tests of throw sites: the kind (error_kind_name) of the MuseError an action throws, "<no MuseError>" if
// none. A name, so a failing EXPECT_EQ prints "not_found" vs "invalid_request" rather than enum values.
#pragma once
#include <string>

#include "util/error.h"

namespace muse {

template <typename Action>
std::string error_kind_of(Action action) {
  try {
    action();
  } catch (const MuseError& e) {
    return error_kind_name(e.kind());
  }
  return "<no MuseError>";
}

}  // namespace muse

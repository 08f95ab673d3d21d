// Numbers as people read them in the CLI's output.
#pragma once
#include <cmath>
#include <cstdio>
#include <string>

namespace muse {

// `value` with `digits` decimals, as printf's %.Nf writes it ("nan" for NaN).
inline std::string format_fixed(double value, int digits) {
  if (std::isnan(value)) return "nan";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

}  // namespace muse

#include "tools/exact_number.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace muse::exact {

void strip_high_zeros(Limbs& a) {
  while (!a.empty() && a.back() == 0) a.pop_back();
}

int compare_magnitude(const Limbs& a, const Limbs& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

bool is_one(const Limbs& a) { return a.size() == 1 && a[0] == 1; }

Limbs add_magnitude(const Limbs& a, const Limbs& b) {
  const Limbs& longer = a.size() >= b.size() ? a : b;
  const Limbs& shorter = a.size() >= b.size() ? b : a;
  Limbs sum(longer.size() + 1);
  uint64_t carry = 0;
  for (size_t i = 0; i < longer.size(); ++i) {
    carry += longer[i];
    if (i < shorter.size()) carry += shorter[i];
    sum[i] = static_cast<uint32_t>(carry);
    carry >>= 32;
  }
  sum[longer.size()] = static_cast<uint32_t>(carry);
  strip_high_zeros(sum);
  return sum;
}

// a - b, for a >= b.
Limbs subtract_magnitude(const Limbs& a, const Limbs& b) {
  Limbs difference(a.size());
  int64_t borrow = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t t = static_cast<int64_t>(a[i]) - borrow - (i < b.size() ? static_cast<int64_t>(b[i]) : 0);
    borrow = t < 0 ? 1 : 0;
    if (t < 0) t += int64_t{1} << 32;
    difference[i] = static_cast<uint32_t>(t);
  }
  strip_high_zeros(difference);
  return difference;
}

// Schoolbook: the operands never exceed a few hundred digits (max_result_digits).
Limbs multiply_magnitude(const Limbs& a, const Limbs& b) {
  if (a.empty() || b.empty()) return {};
  Limbs product(a.size() + b.size(), 0);
  for (size_t i = 0; i < a.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.size(); ++j) {
      // (2^32-1)^2 + 2 (2^32-1) = 2^64 - 1: no overflow.
      const uint64_t t = static_cast<uint64_t>(a[i]) * b[j] + product[i + j] + carry;
      product[i + j] = static_cast<uint32_t>(t);
      carry = t >> 32;
    }
    product[i + b.size()] = static_cast<uint32_t>(carry);
  }
  strip_high_zeros(product);
  return product;
}

void multiply_add_small(Limbs& a, uint32_t factor, uint32_t addend) {
  uint64_t carry = addend;
  for (uint32_t& limb : a) {
    const uint64_t t = static_cast<uint64_t>(limb) * factor + carry;
    limb = static_cast<uint32_t>(t);
    carry = t >> 32;
  }
  if (carry != 0) a.push_back(static_cast<uint32_t>(carry));
}

// a /= divisor (nonzero); returns the remainder.
uint32_t divide_small(Limbs& a, uint32_t divisor) {
  uint64_t remainder = 0;
  for (size_t i = a.size(); i-- > 0;) {
    const uint64_t current = (remainder << 32) | a[i];
    a[i] = static_cast<uint32_t>(current / divisor);
    remainder = current % divisor;
  }
  strip_high_zeros(a);
  return static_cast<uint32_t>(remainder);
}

// Knuth's algorithm D (TAOCP vol. 2, 4.3.1), in the form of Hacker's Delight's divmnu: a = q b + r, b nonzero.
void divide_magnitude(const Limbs& a, const Limbs& b, Limbs& quotient, Limbs& remainder) {
  if (compare_magnitude(a, b) < 0) {
    quotient.clear();
    remainder = a;
    return;
  }
  if (b.size() == 1) {
    quotient = a;
    const uint32_t r = divide_small(quotient, b[0]);
    remainder.clear();
    if (r != 0) remainder.push_back(r);
    return;
  }
  const size_t n = b.size();
  const size_t m = a.size();
  // Shift both so the divisor's top bit is set: then each estimated quotient digit is at most 2 too large.
  const int shift = __builtin_clz(b.back());
  Limbs v(n);
  Limbs u(m + 1);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t low = i > 0 ? static_cast<uint64_t>(b[i - 1]) >> (32 - shift) : 0;
    v[i] = static_cast<uint32_t>((static_cast<uint64_t>(b[i]) << shift) | low);
  }
  for (size_t i = 0; i < m; ++i) {
    const uint64_t low = i > 0 ? static_cast<uint64_t>(a[i - 1]) >> (32 - shift) : 0;
    u[i] = static_cast<uint32_t>((static_cast<uint64_t>(a[i]) << shift) | low);
  }
  u[m] = static_cast<uint32_t>(static_cast<uint64_t>(a[m - 1]) >> (32 - shift));

  constexpr uint64_t kBase = uint64_t{1} << 32;
  quotient.assign(m - n + 1, 0);
  for (size_t j = m - n + 1; j-- > 0;) {
    const uint64_t top = (static_cast<uint64_t>(u[j + n]) << 32) | u[j + n - 1];
    uint64_t qhat = top / v[n - 1];
    uint64_t rhat = top % v[n - 1];
    // qhat <= kBase + 1 here, so qhat * v[n-2] fits in 64 bits.
    while (qhat >= kBase || qhat * v[n - 2] > ((rhat << 32) | u[j + n - 2])) {
      --qhat;
      rhat += v[n - 1];
      if (rhat >= kBase) break;
    }
    int64_t borrow = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t p = qhat * v[i];
      const int64_t t = static_cast<int64_t>(u[i + j]) - borrow - static_cast<int64_t>(p & 0xFFFFFFFFu);
      u[i + j] = static_cast<uint32_t>(t);
      borrow = static_cast<int64_t>(p >> 32) - (t >> 32);
    }
    const int64_t t = static_cast<int64_t>(u[j + n]) - borrow;
    u[j + n] = static_cast<uint32_t>(t);
    if (t < 0) {  // qhat was one too large (rare): add the divisor back
      --qhat;
      uint64_t carry = 0;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t s = static_cast<uint64_t>(u[i + j]) + v[i] + carry;
        u[i + j] = static_cast<uint32_t>(s);
        carry = s >> 32;
      }
      u[j + n] = static_cast<uint32_t>(u[j + n] + carry);
    }
    quotient[j] = static_cast<uint32_t>(qhat);
  }
  strip_high_zeros(quotient);
  remainder.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t high = shift > 0 ? static_cast<uint64_t>(u[i + 1]) << (32 - shift) : 0;
    remainder[i] = static_cast<uint32_t>((u[i] >> shift) | high);
  }
  strip_high_zeros(remainder);
}

Limbs gcd_magnitude(Limbs a, Limbs b) {
  Limbs quotient;
  Limbs remainder;
  while (!b.empty()) {
    divide_magnitude(a, b, quotient, remainder);
    a = std::move(b);
    b = std::move(remainder);
  }
  return a;
}

size_t bit_length(const Limbs& a) {
  if (a.empty()) return 0;
  return 32 * (a.size() - 1) + (32 - static_cast<size_t>(__builtin_clz(a.back())));
}

std::string magnitude_to_decimal(Limbs a) {
  if (a.empty()) return "0";
  std::vector<uint32_t> chunks;  // base 10^9, little-endian
  while (!a.empty()) chunks.push_back(divide_small(a, 1000000000u));
  std::string text = std::to_string(chunks.back());
  for (size_t i = chunks.size() - 1; i-- > 0;) {
    const std::string chunk = std::to_string(chunks[i]);
    text.append(9 - chunk.size(), '0');
    text += chunk;
  }
  return text;
}

// digits: ASCII decimal digits only. Nine at a time, the first chunk taking the remainder.
Limbs magnitude_from_decimal(const std::string& digits) {
  Limbs a;
  size_t i = 0;
  size_t chunk_length = digits.size() % 9 == 0 ? 9 : digits.size() % 9;
  while (i < digits.size()) {
    uint32_t chunk = 0;
    uint32_t scale = 1;
    for (size_t k = 0; k < chunk_length; ++k, ++i) {
      chunk = chunk * 10 + static_cast<uint32_t>(digits[i] - '0');
      scale *= 10;
    }
    multiply_add_small(a, scale, chunk);
    chunk_length = 9;
  }
  strip_high_zeros(a);
  return a;
}

Limbs power_of_ten(size_t exponent) {
  Limbs a{1};
  for (; exponent >= 9; exponent -= 9) multiply_add_small(a, 1000000000u, 0);
  uint32_t rest = 1;
  for (; exponent > 0; --exponent) rest *= 10;
  multiply_add_small(a, rest, 0);
  return a;
}

// Whether a has more than `limit` decimal digits. The bit length brackets the digit count within one; only in
// that band is the exact count needed.
bool exceeds_digits(const Limbs& a, int limit) {
  if (a.empty()) return limit < 1;
  const double bits = static_cast<double>(bit_length(a));
  // a is in [2^(bits-1), 2^bits): digits in [floor((bits-1) log10 2) + 1, floor(bits log10 2) + 1].
  const double fewest = std::floor((bits - 1) * kLog10Of2 - 1e-9) + 1;
  const double most = std::floor(bits * kLog10Of2 + 1e-9) + 1;
  if (most <= limit) return false;
  if (fewest > limit) return true;
  return magnitude_to_decimal(a).size() > static_cast<size_t>(limit);
}

std::string approximate_decimal(const Rational& value, int significant) {
  const Limbs& numerator = value.numerator().magnitude();
  const Limbs& denominator = value.denominator().magnitude();
  if (numerator.empty()) return "0";
  const long numerator_digits = static_cast<long>(magnitude_to_decimal(numerator).size());
  const long denominator_digits = static_cast<long>(magnitude_to_decimal(denominator).size());
  // value * 10^scale lies in [10^(significant-1), 10^(significant+1)); at most one step down brings the
  // quotient under 10^significant.
  long scale = significant - (numerator_digits - denominator_digits);
  const Limbs limit = power_of_ten(static_cast<size_t>(significant));
  Limbs quotient;
  Limbs remainder;
  Limbs divisor;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Limbs scaled =
        scale >= 0 ? multiply_magnitude(numerator, power_of_ten(static_cast<size_t>(scale))) : numerator;
    divisor = scale >= 0 ? denominator : multiply_magnitude(denominator, power_of_ten(static_cast<size_t>(-scale)));
    divide_magnitude(scaled, divisor, quotient, remainder);
    if (compare_magnitude(quotient, limit) < 0) break;
    --scale;
  }
  // Round half away from zero (on the magnitude): remainder * 2 >= divisor.
  if (compare_magnitude(add_magnitude(remainder, remainder), divisor) >= 0) {
    quotient = add_magnitude(quotient, Limbs{1});
    if (compare_magnitude(quotient, limit) == 0) {  // 9.99...95 rounds up to 10.0...0: one digit fewer after the point
      quotient = power_of_ten(static_cast<size_t>(significant - 1));
      --scale;
    }
  }
  std::string digits = magnitude_to_decimal(quotient);  // `significant` digits
  const long leading_exponent = static_cast<long>(digits.size()) - 1 - scale;  // the first digit's power of ten
  const std::string sign = value.numerator().negative() ? "-" : "";
  auto trim_zeros = [](std::string text) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    return text;
  };
  if (leading_exponent >= -6 && leading_exponent < significant) {
    std::string integer_part;
    std::string fraction;
    if (leading_exponent >= 0) {
      integer_part = digits.substr(0, static_cast<size_t>(leading_exponent) + 1);
      fraction = digits.substr(static_cast<size_t>(leading_exponent) + 1);
    } else {
      integer_part = "0";
      fraction = std::string(static_cast<size_t>(-leading_exponent - 1), '0') + digits;
    }
    fraction = trim_zeros(fraction);
    return sign + integer_part + (fraction.empty() ? "" : "." + fraction);
  }
  const std::string mantissa_fraction = trim_zeros(digits.substr(1));
  return sign + digits.substr(0, 1) + (mantissa_fraction.empty() ? "" : "." + mantissa_fraction) + "e" +
         (leading_exponent < 0 ? "-" : "+") + std::to_string(std::labs(leading_exponent));
}

}  // namespace muse::exact

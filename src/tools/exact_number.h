// Exact numbers for the calculator: big integers (sign and base-2^32 magnitude) and rationals kept in lowest
// terms, with the few magnitude operations they need (Knuth D division, Euclid's gcd, decimal conversion) and an
// exactly rounded decimal approximation. No limits here: the calculator checks sizes before it computes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace muse::exact {

// A magnitude: little-endian base-2^32 limbs with no zero high limbs, so zero is the empty vector and equal
// values have equal representations.
using Limbs = std::vector<uint32_t>;

inline constexpr double kLog10Of2 = 0.30102999566398119521;

void strip_high_zeros(Limbs& a);
int compare_magnitude(const Limbs& a, const Limbs& b);
bool is_one(const Limbs& a);
Limbs add_magnitude(const Limbs& a, const Limbs& b);
// a - b, for a >= b.
Limbs subtract_magnitude(const Limbs& a, const Limbs& b);
// Schoolbook: the operands never exceed a few hundred digits (max_result_digits).
Limbs multiply_magnitude(const Limbs& a, const Limbs& b);
void multiply_add_small(Limbs& a, uint32_t factor, uint32_t addend);
// a /= divisor (nonzero); returns the remainder.
uint32_t divide_small(Limbs& a, uint32_t divisor);
// Knuth's algorithm D (TAOCP vol. 2, 4.3.1), in the form of Hacker's Delight's divmnu: a = q b + r, b nonzero.
void divide_magnitude(const Limbs& a, const Limbs& b, Limbs& quotient, Limbs& remainder);
Limbs gcd_magnitude(Limbs a, Limbs b);
size_t bit_length(const Limbs& a);
std::string magnitude_to_decimal(Limbs a);
// digits: ASCII decimal digits only. Nine at a time, the first chunk taking the remainder.
Limbs magnitude_from_decimal(const std::string& digits);
Limbs power_of_ten(size_t exponent);
// Whether a has more than `limit` decimal digits. The bit length brackets the digit count within one; only in
// that band is the exact count needed.
bool exceeds_digits(const Limbs& a, int limit);

// Sign and magnitude; zero is never negative.
class BigInt {
 public:
  BigInt() = default;
  BigInt(bool negative, Limbs magnitude) : negative_(negative), magnitude_(std::move(magnitude)) {
    strip_high_zeros(magnitude_);
    if (magnitude_.empty()) negative_ = false;
  }
  static BigInt one() { return BigInt(false, Limbs{1}); }

  bool negative() const { return negative_; }
  bool is_zero() const { return magnitude_.empty(); }
  const Limbs& magnitude() const { return magnitude_; }

  BigInt operator-() const { return BigInt(!negative_, magnitude_); }
  friend BigInt operator+(const BigInt& a, const BigInt& b) {
    if (a.negative_ == b.negative_) return BigInt(a.negative_, add_magnitude(a.magnitude_, b.magnitude_));
    const int order = compare_magnitude(a.magnitude_, b.magnitude_);
    if (order == 0) return BigInt();
    if (order > 0) return BigInt(a.negative_, subtract_magnitude(a.magnitude_, b.magnitude_));
    return BigInt(b.negative_, subtract_magnitude(b.magnitude_, a.magnitude_));
  }
  friend BigInt operator-(const BigInt& a, const BigInt& b) { return a + (-b); }
  friend BigInt operator*(const BigInt& a, const BigInt& b) {
    return BigInt(a.negative_ != b.negative_, multiply_magnitude(a.magnitude_, b.magnitude_));
  }
  // Truncating division by a positive magnitude that divides this exactly (reduction by a gcd).
  BigInt divided_exactly_by(const Limbs& divisor) const {
    Limbs quotient;
    Limbs remainder;
    divide_magnitude(magnitude_, divisor, quotient, remainder);
    return BigInt(negative_, std::move(quotient));
  }
  std::string to_string() const { return (negative_ ? "-" : "") + magnitude_to_decimal(magnitude_); }

 private:
  bool negative_ = false;
  Limbs magnitude_;
};

// numerator / denominator in lowest terms with denominator > 0; zero is 0/1.
class Rational {
 public:
  Rational() : denominator_(BigInt::one()) {}
  Rational(BigInt numerator, BigInt denominator)
      : numerator_(std::move(numerator)), denominator_(std::move(denominator)) {
    if (denominator_.negative()) {
      numerator_ = -numerator_;
      denominator_ = -denominator_;
    }
    if (numerator_.is_zero()) {
      denominator_ = BigInt::one();
      return;
    }
    const Limbs divisor = gcd_magnitude(numerator_.magnitude(), denominator_.magnitude());
    if (!is_one(divisor)) {
      numerator_ = numerator_.divided_exactly_by(divisor);
      denominator_ = denominator_.divided_exactly_by(divisor);
    }
  }
  // Already in lowest terms (a power of a reduced fraction): skips the gcd.
  static Rational reduced(BigInt numerator, BigInt denominator) {
    Rational r;
    r.numerator_ = std::move(numerator);
    r.denominator_ = std::move(denominator);
    return r;
  }

  const BigInt& numerator() const { return numerator_; }
  const BigInt& denominator() const { return denominator_; }
  bool is_zero() const { return numerator_.is_zero(); }
  bool is_integer() const { return is_one(denominator_.magnitude()); }

  Rational operator-() const { return reduced(-numerator_, denominator_); }
  friend Rational operator+(const Rational& a, const Rational& b) {
    if (a.is_integer() && b.is_integer()) return reduced(a.numerator_ + b.numerator_, BigInt::one());
    return Rational(a.numerator_ * b.denominator_ + b.numerator_ * a.denominator_, a.denominator_ * b.denominator_);
  }
  friend Rational operator-(const Rational& a, const Rational& b) { return a + (-b); }
  friend Rational operator*(const Rational& a, const Rational& b) {
    if (a.is_integer() && b.is_integer()) return reduced(a.numerator_ * b.numerator_, BigInt::one());
    return Rational(a.numerator_ * b.numerator_, a.denominator_ * b.denominator_);
  }
  // b nonzero.
  friend Rational operator/(const Rational& a, const Rational& b) {
    return Rational(a.numerator_ * b.denominator_, a.denominator_ * b.numerator_);
  }
  std::string to_string() const {
    if (is_integer()) return numerator_.to_string();
    return numerator_.to_string() + "/" + denominator_.to_string();
  }

 private:
  BigInt numerator_;
  BigInt denominator_;
};

// The value rounded (half away from zero) to `significant` digits, e.g. "0.333333333333", "-1.5e-30". Exact:
// the digits come from integer division of the fraction, never from a double.
std::string approximate_decimal(const Rational& value, int significant = 12);

}  // namespace muse::exact

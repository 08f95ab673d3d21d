// A rule over what a sequence may write next, kept token by token: the API's response_format (an answer that is
// JSON by a schema) and tool_choice (a call forced in, its arguments by the function's schema) are constraints
// (constrain/json_schema.h, constrain/reply_constraint.h). The engine asks one before every token it chooses and tells it every token appended to the
// sequence, sampled or forced; a fork continues with a copy of its parent's (clone()).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace muse {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual std::unique_ptr<TokenConstraint> clone() const = 0;

  struct Next {
    int forced = -1;          // >= 0: this token comes next, without sampling (marked forced)
    bool restricted = false;  // true: only the tokens `allowed` marks 1 may be sampled next
    // With a restriction: token `steer_to` also gets the probability of `steer_from` (a writer that wants to
    // stop, where stopping is not allowed yet, is steered to the character that closes what it writes).
    int steer_from = -1, steer_to = -1;
  };
  // What may come next. `allowed` is the caller's scratch of vocab_size bytes, to be filled when restricted.
  // A restriction leaves at least one token allowed (a grammar always has a way on).
  virtual Next next(std::vector<uint8_t>& allowed) const = 0;
  // Every token appended to the sequence, in order (tool results forced in by the caller included).
  virtual void append(int token) = 0;
};

// Owns a constraint's state and copies it deeply, so a copy of DecodeRules (a fork) continues on its own.
class ConstraintSlot {
 public:
  ConstraintSlot() = default;
  explicit ConstraintSlot(std::unique_ptr<TokenConstraint> c) : c_(std::move(c)) {}
  ConstraintSlot(const ConstraintSlot& other) : c_(other.c_ ? other.c_->clone() : nullptr) {}
  ConstraintSlot& operator=(const ConstraintSlot& other) {
    if (this != &other) c_ = other.c_ ? other.c_->clone() : nullptr;
    return *this;
  }
  ConstraintSlot(ConstraintSlot&&) noexcept = default;
  ConstraintSlot& operator=(ConstraintSlot&&) noexcept = default;
  TokenConstraint* get() const { return c_.get(); }
  explicit operator bool() const { return c_ != nullptr; }

 private:
  std::unique_ptr<TokenConstraint> c_;
};

}  // namespace muse
